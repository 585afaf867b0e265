import * as pulumi from "@pulumi/pulumi";
import { Dns } from "../../components/dns";
import { LoadBalancer } from "../../components/loadBalancer";
import { Tls } from "../../components/tls";
import { createMocks } from "../../tools/mocks";

// Components refuse arguments that config cannot catch (they may be used from elsewhere).
beforeAll(() => {
  pulumi.runtime.setMocks(
    createMocks(() => undefined),
    "guincho",
    "test",
    false,
  );
});

const challenge = { name: "_acme-challenge.app.example.com.", type: "CNAME", data: "x.goog." };

function errorOf(build: () => unknown): string {
  try {
    build();
  } catch (e) {
    return (e as Error).message;
  }
  return "no error";
}

describe("components refuse what config would have caught", () => {
  test("fails when the load balancer's log sample rate is above 1", () => {
    const message = errorOf(
      () =>
        new LoadBalancer("lb-rate", {
          instanceGroup: "group",
          certificateMap: "map",
          sslPolicy: "policy",
          logSampleRate: 1.5,
        }),
    );
    expect(message).toBe(
      "LoadBalancer lb-rate: logSampleRate received 1.5; expected a share from 0 to 1 " +
        "(1 logs every request)",
    );
  });

  test("fails when the rate limit is not a whole number of requests", () => {
    const message = errorOf(
      () =>
        new LoadBalancer("lb-limit", {
          instanceGroup: "group",
          certificateMap: "map",
          sslPolicy: "policy",
          rateLimitPerMinute: 0.5,
        }),
    );
    expect(message).toBe(
      "LoadBalancer lb-limit: rateLimitPerMinute received 0.5; expected a whole number of " +
        "requests per minute, 1 or more",
    );
  });

  test("fails when the certificate's host name ends with a dot", () => {
    expect(errorOf(() => new Tls("tls-dot", { fqdn: "app.example.com." }))).toBe(
      'Tls tls-dot: fqdn received "app.example.com."; expected a lower-case host name such ' +
        'as "app.guincholacerda.com.br", without a trailing dot',
    );
  });

  test("fails when the host name is outside the zone", () => {
    const message = errorOf(
      () =>
        new Dns("dns-out", {
          zoneDomain: "staging.example.com",
          fqdn: "app.example.com",
          ipv4Address: "203.0.113.10",
          certificateChallenge: challenge,
        }),
    );
    expect(message).toBe(
      'Dns dns-out: fqdn received "app.example.com", which is outside the zone ' +
        '"staging.example.com"; pass a host name that ends with ".staging.example.com"',
    );
  });
});

describe("components warn about odd but valid settings", () => {
  test("warns when the access log is off and when no WAF rule set is enforced", () => {
    const warn = jest.spyOn(pulumi.log, "warn").mockImplementation(() => Promise.resolve());
    new LoadBalancer("lb-quiet", {
      instanceGroup: "group",
      certificateMap: "map",
      sslPolicy: "policy",
      logSampleRate: 0,
    });
    expect(warn.mock.calls.map((call) => call[0])).toEqual([
      "LoadBalancer lb-quiet: logSampleRate is 0, so no request reaches the access log; the " +
        "operators' reviews and Cloud Armor's decisions will have nothing to show",
      "LoadBalancer lb-quiet: no preconfigured WAF rule set is enforced (wafRules is empty); " +
        'the public edge then only rate-limits. Consider at least "sqli-v33-stable" and ' +
        '"xss-v33-stable"',
    ]);
    warn.mockRestore();
  });
});
