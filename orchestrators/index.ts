import * as df from 'durable-functions';
import { orchestrators } from './contracts.js';
import { flowSync } from './flowSync.js';
import { pairSync } from './pairSync.js';
import { reconcileLink } from './reconcileLink.js';

df.app.orchestration(orchestrators.flowSync.name, flowSync);
df.app.orchestration(orchestrators.pairSync.name, pairSync);
df.app.orchestration(orchestrators.reconcileLink.name, reconcileLink);
