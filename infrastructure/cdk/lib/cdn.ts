/*
 * CloudFront in front of the ALB (context `cdn`, off by default): caches the public reads at the
 * edge, passes everything else through untouched. docs/SCALING.md ("CDN") has what it buys and
 * docs/DEPLOYMENT.md ("CloudFront in front of the API") how it is wired and deployed.
 *
 *   /clips*, /calendar*  GET/HEAD cached on path + every query string (no header, no cookie, never
 *                        Authorization), for as long as the origin's Cache-Control says, capped at
 *                        CDN_MAX_TTL_SECONDS; compressed at the edge. Other methods (POST
 *                        /clips/{id}/reports) pass through uncached.
 *   everything else      CachingDisabled and every viewer header, query string and cookie
 *                        (Authorization reaches /admin), every method.
 *
 * The viewer's Host reaches the app (ALLOWED_HOSTS and the ALB's host rule stay as they are) and
 * CloudFront checks the ALB's certificate against it. The ALB admits only CloudFront's
 * origin-facing addresses, and its API rule also wants a secret header only this distribution
 * sends (the stack wires both, lib/timewarp-stack.ts).
 */
import { Duration } from 'aws-cdk-lib';
import * as acm from 'aws-cdk-lib/aws-certificatemanager';
import * as cloudfront from 'aws-cdk-lib/aws-cloudfront';
import * as origins from 'aws-cdk-lib/aws-cloudfront-origins';
import type * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import { Construct } from 'constructs';

/** The paths whose GET/HEAD answers the server marks `public, max-age=5, stale-while-revalidate=30`. */
export const CDN_CACHED_PATHS = ['/clips*', '/calendar*'] as const;

/** The most the edge keeps an answer, whatever the origin says (it says 5 s + 30 s stale). */
export const CDN_MAX_TTL_SECONDS = 60;

/** What the server sends on the cached reads (docs/SCALING.md quotes it; the server owns it). */
export const ORIGIN_MAX_AGE_SECONDS = 5;
export const ORIGIN_STALE_WHILE_REVALIDATE_SECONDS = 30;

/** The header CloudFront adds to every origin request and the ALB's API rule requires. */
export const ORIGIN_VERIFY_HEADER = 'X-Origin-Verify';

/** The AWS-managed prefix list the ALB's security group admits when the CDN is on. */
export const CLOUDFRONT_ORIGIN_FACING_PREFIX_LIST = 'com.amazonaws.global.cloudfront.origin-facing';

/**
 * What the cached behaviours forward to the origin besides the cache key (path + query): Host
 * (ALLOWED_HOSTS, the ALB rule, the origin certificate check), Content-Type (POST
 * /clips/{id}/reports is JSON) and X-Request-Id (the server's log correlation). CloudFront adds
 * X-Forwarded-For itself. Authorization cannot be in an origin request policy, and on purpose
 * it is not in the cache key: these reads are the same for everyone.
 */
export const CDN_READ_FORWARDED_HEADERS = ['Host', 'Content-Type', 'X-Request-Id'] as const;

/** CloudFront's own error caching (default 10 s) is set to 0 for every code it lets us set. */
export const CDN_ERROR_CODES = [400, 403, 404, 405, 414, 416, 500, 501, 502, 503, 504] as const;

export interface ApiCdnProps {
  readonly name: string; // timewarp-STAGE
  readonly loadBalancer: elbv2.IApplicationLoadBalancer;
  /** The API's public name: the distribution's alias (DNS points here instead of the ALB). */
  readonly domainName: string;
  /** ACM certificate in us-east-1 covering domainName (CloudFront's requirement). */
  readonly certificateArn: string;
  /** The value of ORIGIN_VERIFY_HEADER (a dynamic reference to a Secrets Manager secret). */
  readonly originVerifyValue: string;
}

export class ApiCdn extends Construct {
  readonly distribution: cloudfront.Distribution;
  readonly cachePolicy: cloudfront.CachePolicy;
  readonly readOriginRequestPolicy: cloudfront.OriginRequestPolicy;

  constructor(scope: Construct, id: string, props: ApiCdnProps) {
    super(scope, id);
    const { name } = props;

    this.cachePolicy = new cloudfront.CachePolicy(this, 'ReadCachePolicy', {
      cachePolicyName: `${name}-public-reads`,
      comment: 'Time Warp public reads: path + all query strings; TTL from the origin Cache-Control',
      // min 0 / default 0: an answer without Cache-Control (an ALB error page) is not kept; the
      // server's max-age=5 (and stale-while-revalidate=30) decide, capped at the max.
      minTtl: Duration.seconds(0),
      defaultTtl: Duration.seconds(0),
      maxTtl: Duration.seconds(CDN_MAX_TTL_SECONDS),
      queryStringBehavior: cloudfront.CacheQueryStringBehavior.all(),
      headerBehavior: cloudfront.CacheHeaderBehavior.none(),
      cookieBehavior: cloudfront.CacheCookieBehavior.none(),
      enableAcceptEncodingGzip: true,
      enableAcceptEncodingBrotli: true,
    });
    this.readOriginRequestPolicy = new cloudfront.OriginRequestPolicy(this, 'ReadOriginRequestPolicy', {
      originRequestPolicyName: `${name}-public-reads`,
      comment: 'Time Warp public reads: Host, Content-Type, X-Request-Id and the query string reach the origin',
      headerBehavior: cloudfront.OriginRequestHeaderBehavior.allowList(...CDN_READ_FORWARDED_HEADERS),
      queryStringBehavior: cloudfront.OriginRequestQueryStringBehavior.all(),
      cookieBehavior: cloudfront.OriginRequestCookieBehavior.none(),
    });

    // HTTPS only, TLS 1.2, to the ALB's HTTPS listener (it always has the domain certificate).
    // CloudFront's keep-alive to the origin (5 s) is below the ALB's idle timeout (20 s).
    const origin = new origins.LoadBalancerV2Origin(props.loadBalancer, {
      protocolPolicy: cloudfront.OriginProtocolPolicy.HTTPS_ONLY,
      originSslProtocols: [cloudfront.OriginSslPolicy.TLS_V1_2],
      customHeaders: { [ORIGIN_VERIFY_HEADER]: props.originVerifyValue },
      keepaliveTimeout: Duration.seconds(5),
      readTimeout: Duration.seconds(30),
    });
    const cached: cloudfront.BehaviorOptions = {
      origin,
      viewerProtocolPolicy: cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
      allowedMethods: cloudfront.AllowedMethods.ALLOW_ALL,
      cachedMethods: cloudfront.CachedMethods.CACHE_GET_HEAD,
      cachePolicy: this.cachePolicy,
      originRequestPolicy: this.readOriginRequestPolicy,
      compress: true,
    };

    this.distribution = new cloudfront.Distribution(this, 'Distribution', {
      comment: `Time Warp ${name} API`,
      domainNames: [props.domainName],
      certificate: acm.Certificate.fromCertificateArn(this, 'Certificate', props.certificateArn),
      minimumProtocolVersion: cloudfront.SecurityPolicyProtocol.TLS_V1_2_2021,
      defaultBehavior: {
        origin,
        viewerProtocolPolicy: cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
        allowedMethods: cloudfront.AllowedMethods.ALLOW_ALL,
        cachePolicy: cloudfront.CachePolicy.CACHING_DISABLED,
        originRequestPolicy: cloudfront.OriginRequestPolicy.ALL_VIEWER,
        compress: false,
      },
      additionalBehaviors: Object.fromEntries(CDN_CACHED_PATHS.map((p) => [p, cached])),
      errorResponses: CDN_ERROR_CODES.map((httpStatus) => ({ httpStatus, ttl: Duration.seconds(0) })),
      priceClass: cloudfront.PriceClass.PRICE_CLASS_100,
      httpVersion: cloudfront.HttpVersion.HTTP2_AND_3,
    });
  }
}
