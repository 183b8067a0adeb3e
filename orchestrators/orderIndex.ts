import * as df from 'durable-functions';
import { orderOrchestrators } from '../activities/orderContracts';
import { orderIngest } from './orderIngest.js';

df.app.orchestration(orderOrchestrators.orderIngest.name, orderIngest);
