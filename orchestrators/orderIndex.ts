import { orderOrchestrators } from '../activities/orderContracts';
import { orderIngest } from './orderIngest.js';
import { registerOrchestration } from './registration.js';

registerOrchestration(orderOrchestrators.orderIngest, orderIngest);
