import * as df from 'durable-functions';
import { orderOrchestrators } from '../activities/orderContracts';
import { orderApply } from './orderApply.js';
import { orderIngest } from './orderIngest.js';

df.app.orchestration(orderOrchestrators.orderIngest.name, orderIngest);
df.app.orchestration(orderOrchestrators.orderApply.name, orderApply);
