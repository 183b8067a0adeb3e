import { app } from '@azure/functions';
import * as df from 'durable-functions';
import type { OrderRuntime } from '../activities/orderRuntime.js';
import type { Telemetry } from '../adapters/telemetry.js';
import { silentTelemetry } from '../adapters/telemetry.js';
import {
  createGetDeadLetter,
  createListDeadLetters,
  createOrderEventsTrigger,
  createOrderStatus,
  createOrderUnstick,
  createReplayDeadLetter,
} from './orderEvents.js';

/** The order queue name; test/infra/expectations.ts and infra/app/serviceBus.bicep agree on it. */
export const ORDER_EVENTS_QUEUE = 'order-events';

/** Registers the order-events trigger and the order HTTP endpoints. */
export function registerOrderTriggers(runtime: OrderRuntime, telemetry: Telemetry = silentTelemetry): void {
  df.app.client.serviceBusQueue('orderEvents', {
    connection: 'ServiceBusConnection',
    queueName: ORDER_EVENTS_QUEUE,
    isSessionsEnabled: true,
    handler: createOrderEventsTrigger(runtime, telemetry, ORDER_EVENTS_QUEUE),
  });
  df.app.client.http('orderStatus', {
    methods: ['GET'],
    authLevel: 'function',
    route: 'orders/{region}/{orderId}',
    handler: createOrderStatus(runtime),
  });
  df.app.client.http('orderUnstick', {
    methods: ['POST'],
    authLevel: 'function',
    route: 'orders/{region}/{orderId}/unstick',
    handler: createOrderUnstick(runtime),
  });
  app.http('orderDeadLetters', {
    methods: ['GET'],
    authLevel: 'function',
    route: 'order-deadletters',
    handler: createListDeadLetters(runtime, telemetry, ORDER_EVENTS_QUEUE),
  });
  app.http('orderDeadLetter', {
    methods: ['GET'],
    authLevel: 'function',
    route: 'order-deadletters/{id}',
    handler: createGetDeadLetter(runtime),
  });
  df.app.client.http('orderDeadLetterReplay', {
    methods: ['POST'],
    authLevel: 'function',
    route: 'order-deadletters/{id}/replay',
    handler: createReplayDeadLetter(runtime, telemetry),
  });
}
