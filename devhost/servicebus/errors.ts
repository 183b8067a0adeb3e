import type { ServiceBusError } from '@azure/service-bus';

/**
 * Why a broker operation failed. The names are Service Bus's own (`ServiceBusError.code`) so a
 * caller handles the embedded broker and Azure alike; `InvalidOperation` and `Configuration`
 * cover what the service reports as plain argument/operation errors.
 */
export type ServiceBusErrorCode =
  | 'MessagingEntityNotFound'
  | 'MessagingEntityAlreadyExists'
  | 'MessagingEntityDisabled'
  | 'MessageLockLost'
  | 'SessionLockLost'
  | 'SessionCannotBeLocked'
  | 'MessageNotFound'
  | 'MessageSizeExceeded'
  | 'QuotaExceeded'
  | 'ServiceBusy'
  | 'ServiceTimeout'
  | 'ServiceCommunicationProblem'
  | 'UnauthorizedAccess'
  | 'InvalidOperation'
  | 'Configuration'
  | 'GeneralError';

/** Codes worth retrying as they are: the fault is transient or the lock can be taken again. */
const RETRYABLE: ReadonlySet<ServiceBusErrorCode> = new Set<ServiceBusErrorCode>([
  'MessageLockLost',
  'SessionLockLost',
  'SessionCannotBeLocked',
  'ServiceBusy',
  'ServiceTimeout',
  'ServiceCommunicationProblem',
]);

export class ServiceBusBrokerError extends Error {
  override readonly name = 'ServiceBusBrokerError';
  readonly retryable: boolean;

  constructor(
    readonly code: ServiceBusErrorCode,
    message: string,
    options?: { cause?: unknown; retryable?: boolean },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.retryable = options?.retryable ?? RETRYABLE.has(code);
  }
}

/** The codes `@azure/service-bus` reports that map one to one (an allow-list, not a cast). */
const SDK_CODES: ReadonlySet<string> = new Set<ServiceBusErrorCode>([
  'MessagingEntityNotFound',
  'MessagingEntityAlreadyExists',
  'MessagingEntityDisabled',
  'MessageLockLost',
  'SessionLockLost',
  'SessionCannotBeLocked',
  'MessageNotFound',
  'MessageSizeExceeded',
  'QuotaExceeded',
  'ServiceBusy',
  'ServiceTimeout',
  'ServiceCommunicationProblem',
  'UnauthorizedAccess',
  'GeneralError',
]);

/**
 * Normalises anything an adapter caught: our own errors pass through, `ServiceBusError`s keep
 * their code (and the SDK's own `retryable` verdict where it gives one), and everything else
 * becomes a non-retryable `GeneralError` carrying the original as `cause`.
 */
export function toServiceBusBrokerError(err: unknown): ServiceBusBrokerError {
  if (err instanceof ServiceBusBrokerError) return err;
  if (isServiceBusError(err)) {
    const code: ServiceBusErrorCode = SDK_CODES.has(err.code) ? err.code : 'GeneralError';
    return new ServiceBusBrokerError(code, err.message, {
      cause: err,
      retryable: RETRYABLE.has(code) || err.retryable === true,
    });
  }
  if (err instanceof Error) {
    // The SDK throws plain TypeErrors/Errors for bad arguments (e.g. a missing sessionId on a session entity).
    const invalid = err instanceof TypeError || /session|invalid|must be/i.test(err.message);
    return new ServiceBusBrokerError(invalid ? 'InvalidOperation' : 'GeneralError', err.message, {
      cause: err,
      retryable: false,
    });
  }
  return new ServiceBusBrokerError('GeneralError', String(err), { cause: err, retryable: false });
}

/**
 * The SDK's own `isServiceBusError` is a name check; doing it here keeps @azure/service-bus
 * (slow to load) out of every devhost start that only uses the embedded broker.
 */
function isServiceBusError(err: unknown): err is ServiceBusError {
  return typeof err === 'object' && err !== null && (err as { name?: unknown }).name === 'ServiceBusError';
}
