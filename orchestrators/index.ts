import { orchestrators } from './contracts.js';
import { flowSync } from './flowSync.js';
import { pairSync } from './pairSync.js';
import { reconcileLink } from './reconcileLink.js';
import { registerOrchestration } from './registration.js';

registerOrchestration(orchestrators.flowSync, flowSync);
registerOrchestration(orchestrators.pairSync, pairSync);
registerOrchestration(orchestrators.reconcileLink, reconcileLink);
