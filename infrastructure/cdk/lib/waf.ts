/*
 * AWS WAF in front of the ALB (context `waf`: production on, staging and the small profile off).
 *
 * The server limits POSTs per client address, but each task counts on its own, so with N tasks a
 * client gets N times SPEC.md's limits. The rate-based rules here are the cluster-wide guard: one
 * per limited kind, counting per client IP across every task. Their limits are what ONE task
 * admits in the WAF's window (the arithmetic is below and in docs/DEPLOYMENT.md), so a client the
 * server would serve is never blocked by the WAF, however many tasks run.
 * Then AWS's managed rule groups (IP reputation, known bad inputs, the common rule set), and a
 * log of what the WAF blocked or counted, with the Authorization header (operator tokens) redacted.
 */
import { ArnFormat, RemovalPolicy, Stack } from 'aws-cdk-lib';
import type * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as wafv2 from 'aws-cdk-lib/aws-wafv2';
import { Construct } from 'constructs';

/**
 * SPEC.md's production defaults per client, requests per minute (src/config.c has the same;
 * test/suites/waf.ts checks both). Each limit is a GCRA: a burst of N, then one every 60/N s.
 */
export const APP_RATE_LIMITS_PER_MINUTE = { contributors: 10, submissions: 30, reports: 10 } as const;
export type RateKind = keyof typeof APP_RATE_LIMITS_PER_MINUTE;

/** The WAF's counting window (it allows 60, 120, 300 or 600 s); longer smooths its estimate. */
export const WAF_RATE_WINDOW_SECONDS = 300;

/**
 * What one task admits from one client in any window of W seconds: its burst N, plus N per
 * minute of refill, i.e. N * (1 + W / 60). With W = 300: contributors 60, submissions 180,
 * reports 60. The WAF blocks only above that, so it never refuses a request one task would serve.
 */
export function wafRateLimit(perMinute: number, windowSeconds = WAF_RATE_WINDOW_SECONDS): number {
  return perMinute * (1 + windowSeconds / 60);
}

/** The POST routes each rule covers, as the router matches them (a trailing slash is the same route; no percent-decoding of the path). */
export const RATE_LIMITED_PATHS: Record<RateKind, string> = {
  contributors: '^/contributors/?$',
  submissions: '^/submissions/?$',
  reports: '^/clips/[^/]+/reports/?$',
};

export const MANAGED_RULE_GROUPS = [
  'AWSManagedRulesAmazonIpReputationList',
  'AWSManagedRulesKnownBadInputsRuleSet',
  'AWSManagedRulesCommonRuleSet',
] as const;

/** The WAF's own 429: the API's error format, and a Retry-After that always suffices (one window). */
const RATE_LIMITED_MESSAGE = 'Too many requests: slow down and try again later.';
export const RATE_LIMITED_BODY = JSON.stringify({
  detail: RATE_LIMITED_MESSAGE,
  error: { code: 'RATE_LIMITED', message: RATE_LIMITED_MESSAGE, details: {} },
});

export interface WafProps {
  readonly name: string; // timewarp-STAGE
  readonly loadBalancer: elbv2.IApplicationLoadBalancer;
  readonly logRetentionDays: number;
  readonly logKey?: kms.IKey;
  readonly logRemoval: RemovalPolicy;
  /**
   * CloudFront in front of the ALB (context `cdn`): the connecting address is then an edge
   * server, shared by every viewer it serves, so the rate rules count the viewer address that
   * CloudFront put in X-Forwarded-For instead (see the rule below for what that costs).
   */
  readonly behindCdn?: boolean;
}

export class Waf extends Construct {
  readonly webAcl: wafv2.CfnWebACL;
  readonly logGroup: logs.LogGroup;

  constructor(scope: Construct, id: string, props: WafProps) {
    super(scope, id);
    const { name } = props;
    const visibility = (metric: string): wafv2.CfnWebACL.VisibilityConfigProperty => ({
      cloudWatchMetricsEnabled: true, // AWS/WAFV2 metrics, free
      metricName: `${name}-${metric}`,
      sampledRequestsEnabled: true,
    });

    const rateRule = (kind: RateKind, priority: number): wafv2.CfnWebACL.RuleProperty => ({
      name: `rate-${kind}`,
      priority,
      action: { block: { customResponse: { responseCode: 429, customResponseBodyKey: 'rate-limited', responseHeaders: [{ name: 'Retry-After', value: String(WAF_RATE_WINDOW_SECONDS) }] } } },
      statement: {
        rateBasedStatement: {
          // Directly on the ALB: the connecting address, which nothing a client sends can change.
          // Behind CloudFront: the first address of X-Forwarded-For. The WAF reads only the first
          // one, which is the viewer's own address unless the viewer sent an X-Forwarded-For of
          // its own; such a client escapes this cluster-wide count (not the server's per-task
          // limits, which take the entry CloudFront appended: TIMEWARP_TRUSTED_PROXIES=2).
          ...(props.behindCdn
            ? { aggregateKeyType: 'FORWARDED_IP', forwardedIpConfig: { headerName: 'X-Forwarded-For', fallbackBehavior: 'MATCH' } }
            : { aggregateKeyType: 'IP' }),
          limit: wafRateLimit(APP_RATE_LIMITS_PER_MINUTE[kind]),
          evaluationWindowSec: WAF_RATE_WINDOW_SECONDS,
          scopeDownStatement: {
            andStatement: {
              statements: [
                {
                  byteMatchStatement: {
                    fieldToMatch: { method: {} },
                    positionalConstraint: 'EXACTLY',
                    searchString: 'POST',
                    textTransformations: [{ priority: 0, type: 'NONE' }],
                  },
                },
                {
                  regexMatchStatement: {
                    fieldToMatch: { uriPath: {} },
                    regexString: RATE_LIMITED_PATHS[kind],
                    textTransformations: [{ priority: 0, type: 'NONE' }],
                  },
                },
              ],
            },
          },
        },
      },
      visibilityConfig: visibility(`rate-${kind}`),
    });

    const managed = (group: (typeof MANAGED_RULE_GROUPS)[number], priority: number, ruleActionOverrides?: wafv2.CfnWebACL.RuleActionOverrideProperty[]): wafv2.CfnWebACL.RuleProperty => ({
      name: `aws-${group}`,
      priority,
      overrideAction: { none: {} }, // the group's own actions (block)
      statement: { managedRuleGroupStatement: { vendorName: 'AWS', name: group, ruleActionOverrides } },
      visibilityConfig: visibility(group),
    });

    this.webAcl = new wafv2.CfnWebACL(this, 'WebAcl', {
      name,
      description: `Time Warp ${name}: per-IP POST limits across all tasks, AWS managed rules`,
      scope: 'REGIONAL',
      defaultAction: { allow: {} },
      customResponseBodies: { 'rate-limited': { contentType: 'APPLICATION_JSON', content: RATE_LIMITED_BODY } },
      // Known bad addresses first (cheapest), then the rate limits, then the content rules.
      rules: [
        managed('AWSManagedRulesAmazonIpReputationList', 10),
        rateRule('contributors', 20),
        rateRule('submissions', 21),
        rateRule('reports', 22),
        managed('AWSManagedRulesKnownBadInputsRuleSet', 30),
        // SizeRestrictions_BODY blocks any body over 8 KB, but a valid submission may carry
        // 10,000 characters of notes (up to 40 KB of UTF-8) and the server's own limit is 1 MiB
        // (413). Counted, not blocked: the server enforces sizes, the WAF only inspects.
        managed('AWSManagedRulesCommonRuleSet', 40, [{ name: 'SizeRestrictions_BODY', actionToUse: { count: {} } }]),
      ],
      visibilityConfig: visibility('web-acl'),
    });

    new wafv2.CfnWebACLAssociation(this, 'Association', {
      resourceArn: props.loadBalancer.loadBalancerArn,
      webAclArn: this.webAcl.attrArn,
    });

    // WAF writes only to log groups named aws-waf-logs-*.
    this.logGroup = new logs.LogGroup(this, 'LogGroup', {
      logGroupName: `aws-waf-logs-${name}`,
      retention: props.logRetentionDays,
      encryptionKey: props.logKey,
      removalPolicy: props.logRemoval,
    });
    const logConfig = new wafv2.CfnLoggingConfiguration(this, 'Logging', {
      resourceArn: this.webAcl.attrArn,
      // The log group's ARN without the ":*" that its Arn attribute carries (WAF refuses that form).
      logDestinationConfigs: [
        Stack.of(this).formatArn({ service: 'logs', resource: 'log-group', resourceName: this.logGroup.logGroupName, arnFormat: ArnFormat.COLON_RESOURCE_NAME }),
      ],
      // Operator tokens (Authorization: Bearer ...) must never reach a log.
      redactedFields: [{ singleHeader: { Name: 'authorization' } }],
      // Only what the WAF blocked or counted; the ALB's access logs have every request.
      loggingFilter: {
        DefaultBehavior: 'DROP',
        Filters: [
          {
            Behavior: 'KEEP',
            Requirement: 'MEETS_ANY',
            Conditions: [{ ActionCondition: { Action: 'BLOCK' } }, { ActionCondition: { Action: 'COUNT' } }],
          },
        ],
      },
    });
    logConfig.node.addDependency(this.logGroup);
  }
}
