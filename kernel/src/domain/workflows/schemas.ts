/** The workflow representation the API returns. */
import Type from 'typebox';

export const StepSchema = Type.Object({
  name: Type.String(),
  kind: Type.Union([Type.Literal('control'), Type.Literal('site')]),
  state: Type.String(),
  attempt: Type.Integer(),
  maxAttempts: Type.Integer(),
  startedAt: Type.Union([Type.String(), Type.Null()]),
  finishedAt: Type.Union([Type.String(), Type.Null()]),
  error: Type.Union([Type.String(), Type.Null()]),
  waitingFor: Type.Union([Type.String(), Type.Null()], { description: 'What a dispatched step waits for, e.g. an agent at the site' }),
  logTail: Type.Array(Type.String()),
  machineHeardAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()], {
    description:
      'When the machine this site step works on was last heard from (its installer, hardware tests or installed OS calling the agent back); null: not yet',
  }),
  result: Type.Union([Type.Record(Type.String(), Type.Unknown()), Type.Null()]),
});

export const WorkflowSchema = Type.Object({
  id: Type.String({ format: 'uuid' }),
  kind: Type.String(),
  state: Type.String({ description: 'pending, dispatched, running, succeeded, failed, cancelled, timed_out' }),
  machine: Type.Union([Type.Object({ id: Type.String(), hostname: Type.String() }), Type.Null()]),
  site: Type.Object({ id: Type.String(), name: Type.String() }),
  params: Type.Record(Type.String(), Type.Unknown(), { description: 'What the workflow was asked to do, without its secrets' }),
  secrets: Type.Array(Type.Object({ name: Type.String(), sha256: Type.String(), size: Type.Integer({ description: 'bytes' }) }), {
    description: 'Secret params (user-data), by sha256 and size only; operators read a value at GET /v1/workflows/{id}/user-data',
  }),
  error: Type.Union([Type.String(), Type.Null()]),
  cancelRequested: Type.Boolean(),
  createdBy: Type.String(),
  createdAt: Type.String({ format: 'date-time' }),
  updatedAt: Type.String({ format: 'date-time' }),
  finishedAt: Type.Union([Type.String(), Type.Null()]),
  steps: Type.Array(StepSchema),
});
