/*
 * All CDK assertions run in this one process: the first synthesis of a large
 * app dominates the cost (module loading, JIT), so the suites share it.
 */
import './suites/config';
import './suites/network';
import './suites/database';
import './suites/service';
import './suites/load-balancer';
import './suites/monitoring';
import './suites/options';
import './suites/retry';
import './suites/rotation';
import './suites/small';
import './suites/waf';
import './suites/cdn';
import './suites/nag';
