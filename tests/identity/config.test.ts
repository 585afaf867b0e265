import { configProblems } from "../helpers/program";

const SHEET = "1dEvTestSheet-GuinchoLacerda-0000000000";
const MEMBER = 'expected an e-mail address, optionally prefixed "user:" or "group:"';

const problemsOf = (changes: Record<string, unknown>) => configProblems("dev", changes);

describe("identity config mistakes", () => {
  test.each([
    ["ana@@guincholacerda.com.br", MEMBER],
    ["ana.guincholacerda.com.br", MEMBER],
    ["serviceAccount:ci@p.iam.gserviceaccount.com", MEMBER],
    ["user:ana@localhost", MEMBER],
  ])("fails on the administrator %p", (admin, allowed) => {
    expect(problemsOf({ admins: ["user:rafael.lacerda@guincholacerda.com.br", admin] })).toEqual([
      `guincho:admins[1]: received ${JSON.stringify(admin)}; ${allowed}`,
    ]);
  });

  test("fails on an empty list of administrators", () => {
    expect(problemsOf({ admins: [] })).toEqual([
      "guincho:admins: received []; expected at least 1 item(s)",
    ]);
  });

  test("fails on the same administrator twice, with or without user:", () => {
    expect(
      problemsOf({
        admins: [
          "ana@guincholacerda.com.br",
          "group:infra@x.com.br",
          "user:ana@guincholacerda.com.br",
        ],
      }),
    ).toEqual([
      'guincho:admins[2]: received "user:ana@guincholacerda.com.br"; the same administrator as ' +
        "admins[0]: list each person or group once",
    ]);
  });

  test.each([
    ["readRequestsPerMinute", 301, "expected at most 300"],
    ["readRequestsPerMinute", 0, "expected at least 1"],
    ["writeRequestsPerMinute", 1000, "expected at most 300"],
    ["writeRequestsPerMinute", 1.5, "expected a whole number"],
    ["writeRequestsPerMinute", "60", "expected a number"],
  ])("fails on a Sheets quota %s of %p", (key, value, allowed) => {
    expect(problemsOf({ sheets: { spreadsheetId: SHEET, [key]: value } })).toEqual([
      `guincho:sheets.${key}: received ${JSON.stringify(value)}; ${allowed}`,
    ]);
  });

  test.each([
    ["infra", 'expected "owner/name"'],
    ["https://github.com/guincho-lacerda/infra", 'expected "owner/name"'],
  ])("fails on the repository %p", (repository, allowed) => {
    expect(problemsOf({ github: { repository } })).toEqual([
      `guincho:github.repository: received ${JSON.stringify(repository)}; ${allowed}`,
    ]);
  });

  test("fails on a missing repository: CI could not be pinned to one", () => {
    expect(problemsOf({ github: {} })).toEqual([
      "guincho:github.repository: required, but missing; set it in Pulumi.<stack>.yaml",
    ]);
  });
});
