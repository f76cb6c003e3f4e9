export { main, buildCli } from './main.ts';
