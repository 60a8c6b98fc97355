/*
 * The timing contract between the load balancer, ECS and the server.
 *
 * These numbers only work together; change one and re-check the others (the
 * server's defaults live in its config: TIMEWARP_IDLE_TIMEOUT,
 * TIMEWARP_DRAIN_SECONDS, TIMEWARP_SHUTDOWN_TIMEOUT). The tests assert every
 * one of them on the synthesized template.
 */

/** Port the server listens on inside the container (image EXPOSE 8000). */
export const CONTAINER_PORT = 8000;

/*
 * ALB idle timeout MUST be shorter than the server's keep-alive idle timeout.
 * If the server closed an idle connection first, the ALB could pick that
 * connection for the next request at the same moment and answer 502. With the
 * ALB at 20 s and the server at 25 s, the ALB always closes first.
 */
export const ALB_IDLE_TIMEOUT_SECONDS = 20;
export const SERVER_IDLE_TIMEOUT_SECONDS = 25;

/*
 * Target health check: GET /health/ every 10 s, 5 s timeout, 2 successes to
 * become healthy, 2 failures to become unhealthy. A task that starts draining
 * (health answers 503) is therefore out of rotation within 2 x 10 s = 20 s.
 */
export const HEALTH_CHECK_PATH = '/health/';
export const HEALTH_CHECK_INTERVAL_SECONDS = 10;
export const HEALTH_CHECK_TIMEOUT_SECONDS = 5;
export const HEALTHY_THRESHOLD = 2;
export const UNHEALTHY_THRESHOLD = 2;

/*
 * On SIGTERM the server keeps serving for TIMEWARP_DRAIN_SECONDS while /health/
 * answers 503, so that a task stopped without being deregistered first (Spot
 * reclaim, StopTask, platform retirement) leaves rotation before it stops
 * accepting: interval 10 s x unhealthy threshold 2 = 20 s.
 */
export const DRAIN_SECONDS = HEALTH_CHECK_INTERVAL_SECONDS * UNHEALTHY_THRESHOLD;

/* After draining, in-flight requests get this long to finish (server default). */
export const SHUTDOWN_TIMEOUT_SECONDS = 10;

/*
 * ECS waits this long after SIGTERM before SIGKILL: drain 20 s + shutdown 10 s
 * + 15 s margin for closing the database and flushing logs = 45 s (Fargate
 * allows at most 120 s).
 */
export const STOP_TIMEOUT_SECONDS = 45;

/*
 * Deregistration delay: when ECS removes a task from the target group (scale-in,
 * deployment) the ALB stops sending it new requests but lets open requests and
 * keep-alive connections finish for this long before ECS sends SIGTERM. 30 s
 * covers the ALB idle timeout (20 s) plus the server's slowest normal response,
 * without making every deployment wait the ALB default of 300 s.
 */
export const DEREGISTRATION_DELAY_SECONDS = 30;

/* Grace period before ALB health checks may fail a starting task (the binary starts in well under a second). */
export const HEALTH_CHECK_GRACE_SECONDS = 30;
