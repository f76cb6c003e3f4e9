/** transport-nats passes the transport contract against the NATS server on 127.0.0.1:4222. */
import test from 'ava';
import { transportContract } from '@sprout/kernel/testing';
import { natsWorld } from '@sprout/test-support/nats-world.ts';

transportContract(test, 'transport-nats', () => natsWorld());
