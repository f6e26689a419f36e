import express, { type RequestHandler, type Router } from 'express';
import { ApiError } from '../producer/http-errors.ts';
import type { IncomingMessage } from 'node:http';
import { enqueueApiError } from '../producer/job-routes.ts';
import { jsonBody, requireJsonContent } from '../producer/json-body.ts';
import { UnknownEventTypeError } from './errors.ts';
import type { EventSender } from './event-sender.ts';
import type { EventType } from './event-types.ts';

/**
 * `POST /v1/events/:eventType`: a thin HTTP layer over `EventSender`, with
 * the enqueue routes' checks in the same order (auth, event type, content,
 * body) and the same error answers. 202 = the broker confirmed the record
 * stored in its partition.
 */
export function eventRoutes(options: { sender: EventSender; bodyLimit: string; guard: RequestHandler }): Router {
  const router = express.Router();
  router.post(
    '/v1/events/:eventType',
    options.guard,
    findEventType(options.sender),
    requireJsonContent,
    jsonBody({ limit: options.bodyLimit }),
    async (req, res) => {
      const eventType = res.locals.eventType as EventType;
      const published = await options.sender.publish(eventType.type, req.body, idsOf(req)).catch((error: unknown) => {
        throw eventApiError(error);
      });
      res.status(202).json(published);
    },
  );
  return router;
}

function findEventType(sender: EventSender): RequestHandler {
  return (req, res, next) => {
    try {
      res.locals.eventType = sender.eventType(String(req.params.eventType));
    } catch (error) {
      throw eventApiError(error);
    }
    next();
  };
}

export function eventApiError(error: unknown): ApiError {
  if (error instanceof UnknownEventTypeError) return new ApiError(404, error.code, error.message, { known: error.known });
  return enqueueApiError(error);
}

/** `Idempotency-Key` and `X-Correlation-Id`, as sent (the sender checks them). */
function idsOf(req: IncomingMessage): { idempotencyKey: string | undefined; correlationId: string | undefined } {
  return {
    idempotencyKey: req.headers['idempotency-key'] as string | undefined,
    correlationId: req.headers['x-correlation-id'] as string | undefined,
  };
}
