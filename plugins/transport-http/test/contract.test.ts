/** transport-http passes the transport contract: agents over real HTTP to a kernel on PGlite. */
import test from 'ava';
import { transportContract } from '@sprout/kernel/testing';
import { httpWorld } from './http-world.ts';

transportContract(test, 'transport-http', () => httpWorld());
