/**
 * `npm run contract:generate`: writes kernel/src/domain/agent-contract.generated.ts, the
 * JSON of the TypeBox schemas an agent checks documents against (the desired state, the
 * report envelope and payloads), so the agent checks them without loading TypeBox.
 * kernel/test/agent-contract.test.ts fails when the file is stale.
 */
import { writeFileSync } from 'node:fs';
import { agentContractSource, renderAgentContract } from '../src/domain/agent-contract-source.ts';

const target = new URL('../src/domain/agent-contract.generated.ts', import.meta.url);
writeFileSync(target, renderAgentContract(agentContractSource()));
console.log(`wrote ${target.pathname}`);
