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
 * Which health check decides that a task is broken. GET /health/live answers
 * 200 whenever the process can serve, without consulting the database, and 503
 * once a graceful shutdown began; GET /health/ (deep) fails while the database
 * is unreachable. The target group and the container HEALTHCHECK (`timewarp
 * healthcheck`) use /health/live, so a database failover of any length (a
 * Multi-AZ failover takes 60-120 s; we design for 5 minutes) replaces no task:
 * replacing them would only add a cold start to the outage, since new tasks
 * reach the same database. The tasks keep answering fast 503s within the
 * database time budget instead. A hung process answers nothing, so it still
 * fails /health/live: out of rotation after 2 x 10 s (+ 5 s timeout) and
 * replaced by ECS; its container check fails after 3 x 10 s as well. The deep
 * check feeds the DatabaseReachable alarm (the server's metric), not a restart.
 *
 * Target health check: every 10 s, 5 s timeout, 2 successes to become healthy,
 * 2 failures to become unhealthy. A task that starts draining (/health/live
 * answers 503) is therefore out of rotation within 2 x 10 s = 20 s.
 */
export const HEALTH_CHECK_PATH = '/health/live';
/* The deep check: what `scripts/deploy.sh verify` asks through the load balancer. */
export const DEEP_HEALTH_PATH = '/health/';
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

/*
 * Container HEALTHCHECK (ECS): `timewarp healthcheck` (GET /health/live on the
 * loopback) every 10 s, 5 s timeout, unhealthy after 3 failures, failures not
 * counted for the first 15 s. A hung process is replaced after about 30-45 s.
 */
export const CONTAINER_HEALTH_INTERVAL_SECONDS = 10;
export const CONTAINER_HEALTH_TIMEOUT_SECONDS = 5;
export const CONTAINER_HEALTH_RETRIES = 3;
export const CONTAINER_HEALTH_START_PERIOD_SECONDS = 15;

/* The longest database outage that must replace no healthy task (what the design is checked against). */
export const TOLERATED_DATABASE_OUTAGE_SECONDS = 300;

/* TIMEWARP_METRICS_INTERVAL: the server writes one EMF metrics line per this many seconds. */
export const METRICS_INTERVAL_SECONDS = 60;

/*
 * The deep-health alarm: DatabaseReachable (Minimum over a minute) below 1 for
 * 3 consecutive minutes. A routine Multi-AZ failover (60-120 s) does not page;
 * anything longer does.
 */
export const DATABASE_UNREACHABLE_ALARM_MINUTES = 3;
