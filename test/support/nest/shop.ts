// The NestJS recipe of the README ("NestJS"), as a module the test starts: a gRPC
// microservice whose handlers read their session through @GrpcSession().
import "reflect-metadata";
import {
  Catch,
  Controller,
  createParamDecorator,
  type ExecutionContext,
  Module,
  type RpcExceptionFilter,
} from "@nestjs/common";
import { GrpcMethod, Payload } from "@nestjs/microservices";
import { type Observable, throwError } from "rxjs";
import { SessionError } from "../../../src/core/SessionError.js";
import type { Session } from "../../../src/core/session/Session.js";
import { getSession } from "../../../src/grpc/getSession.js";
import { toStatus } from "../../../src/grpc/toStatus.js";

/**
 * The call's Session. Nest hands a gRPC handler (data, metadata, call); the call is the
 * third. Once a parameter has a decorator, Nest fills only decorated ones: the request is
 * then `@Payload()`.
 */
export const GrpcSession = createParamDecorator(
  (_data: unknown, ctx: ExecutionContext): Session => getSession(ctx.getArgByIndex(2)),
);

/** SessionErrors as their gRPC status, not Nest's UNKNOWN; Nest's own RpcException is untouched. */
@Catch(SessionError)
export class GrpcStatusFilter implements RpcExceptionFilter<SessionError> {
  catch(err: SessionError): Observable<never> {
    return throwError(() => toStatus(err));
  }
}

@Controller()
export class ShopController {
  @GrpcMethod("Shop", "AddToCart")
  async addToCart(@Payload() request: { item: string }, @GrpcSession() session: Session) {
    const items = ((await session.get("cart")) ?? []) as string[];
    session.set("cart", [...items, request.item]); // committed before the reply leaves
    return { items: [...items, request.item] };
  }

  @GrpcMethod("Shop", "Cart")
  async cart(@GrpcSession() session: Session) {
    return { items: ((await session.get("cart")) ?? []) as string[] };
  }

  @GrpcMethod("Shop", "Checkout")
  async checkout(@GrpcSession() session: Session) {
    if (((await session.get("cart", [])) as string[]).length === 0) {
      throw new SessionError("failed_precondition", "the cart is empty");
    }
    return { items: [] };
  }
}

@Module({ controllers: [ShopController] })
export class ShopModule {}
