import type {
  Metadata,
  ServerInterceptingCall,
  ServerInterceptingCallInterface,
} from "@grpc/grpc-js";

/** The handler-side listener grpc-js passes to start() (its type is not exported). */
export type InterceptingServerListener = Parameters<ServerInterceptingCallInterface["start"]>[0];
type Status = Parameters<ServerInterceptingCallInterface["sendStatus"]>[0];

/**
 * An intercepting call that hands every event straight to the call below, for interceptors
 * that override a method or two. grpc-js's ServerInterceptingCall allocates per call a
 * listener wrapper and its closures at start(), and a closure for every sendMetadata,
 * sendMessage and sendStatus, so that a Responder may answer later; an interceptor that
 * always answers at once needs none of that (it is on every call's path).
 *
 * What a subclass must keep when it overrides: sendMessage() before sendMetadata() sends
 * empty metadata first (grpc-js's call below does the same, but an interceptor that adds
 * to the response metadata must see it: see SessionCall).
 */
export class PassThroughCall implements ServerInterceptingCallInterface {
  protected readonly next: ServerInterceptingCallInterface;

  constructor(next: ServerInterceptingCallInterface) {
    this.next = next;
  }

  start(listener: InterceptingServerListener): void {
    this.next.start(listener);
  }

  sendMetadata(metadata: Metadata): void {
    this.next.sendMetadata(metadata);
  }

  sendMessage(message: unknown, callback: () => void): void {
    this.next.sendMessage(message, callback);
  }

  sendStatus(status: Status): void {
    this.next.sendStatus(status);
  }

  startRead(): void {
    this.next.startRead();
  }

  getPeer(): string {
    return this.next.getPeer();
  }

  getDeadline(): ReturnType<ServerInterceptingCallInterface["getDeadline"]> {
    return this.next.getDeadline();
  }

  getHost(): string {
    return this.next.getHost();
  }

  getAuthContext(): ReturnType<ServerInterceptingCallInterface["getAuthContext"]> {
    return this.next.getAuthContext();
  }

  getConnectionInfo(): ReturnType<ServerInterceptingCallInterface["getConnectionInfo"]> {
    return this.next.getConnectionInfo();
  }

  getMetricsRecorder(): ReturnType<ServerInterceptingCallInterface["getMetricsRecorder"]> {
    return this.next.getMetricsRecorder();
  }
}

/**
 * What an interceptor returns. grpc-js's ServerInterceptor type names its class, but grpc-js
 * only ever calls the ServerInterceptingCallInterface methods of what an interceptor
 * returns (it chains them: each interceptor gets the previous one's call).
 */
export function asInterceptingCall(call: PassThroughCall): ServerInterceptingCall {
  return call as unknown as ServerInterceptingCall;
}
