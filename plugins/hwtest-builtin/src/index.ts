/** Builtin hardware testing: the catalogue the installer runs while commissioning. */
import { definePlugin, hwtestCapability } from '@sprout/kernel/sdk';
import { catalogue, judge } from './catalogue.ts';

export default definePlugin({
  id: 'hwtest-builtin',
  setup(ctx) {
    ctx.provide(hwtestCapability, () => ({ catalogue: () => catalogue, judge }));
  },
});
