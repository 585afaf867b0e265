/**
 * The handbook's links: every alert has its runbook page with the hand-written sections, and
 * every relative link of docs/ and the README points at a file (and heading) that exists.
 */
import * as fs from "fs";
import * as path from "path";
import { runbookLinks } from "../../components/alerts";
import { anchors, handbookPages, read, relativeLinks, repoRoot } from "./handbook";

describe("alert runbooks", () => {
  test("every alert any stage can raise has its runbook page", () => {
    const missing = runbookLinks()
      .map((link) => link.path)
      .filter((page) => !fs.existsSync(path.join(repoRoot, page)));
    expect(missing).toEqual([]);
  });

  test.each(runbookLinks().map((link) => [link.id, link.path]))(
    "%s: the page says what to run, how to resolve and how to verify",
    (_id, page) => {
      const text = read(page);
      for (const section of ["## Commands", "## Resolve", "## Verify"]) {
        const start = text.indexOf(`${section}\n`);
        expect({ section, found: start >= 0 }).toEqual({ section, found: true });
        const body = text
          .slice(start + section.length)
          .split(/^## /m)[0]
          .trim();
        expect({ section, empty: body.length === 0 }).toEqual({ section, empty: false });
      }
    },
  );

  test("the weekly drift issue's runbook exists", () => {
    const workflow = read(".github/workflows/scheduled.yml");
    expect(workflow).toContain("docs/runbooks/drift.md");
    expect(fs.existsSync(path.join(repoRoot, "docs/runbooks/drift.md"))).toBe(true);
  });

  test("the staging deploy's UAT checklist exists", () => {
    expect(read(".github/workflows/deploy.yml")).toContain("docs/checklists/uat.md");
    expect(fs.existsSync(path.join(repoRoot, "docs/checklists/uat.md"))).toBe(true);
  });
});

describe("relative links", () => {
  test.each(handbookPages())("%s: every relative link resolves", (page) => {
    const broken: string[] = [];
    for (const link of relativeLinks(read(page))) {
      const [file, anchor] = link.split("#");
      const target = file ? path.normalize(path.join(path.dirname(page), file)) : page;
      if (!fs.existsSync(path.join(repoRoot, target))) {
        broken.push(`${link}: no file ${target}`);
      } else if (anchor && target.endsWith(".md") && !anchors(read(target)).has(anchor)) {
        broken.push(`${link}: no heading "#${anchor}" in ${target}`);
      }
    }
    expect(broken).toEqual([]);
  });

  test("the handbook index links every page of docs/", () => {
    const index = new Set(
      relativeLinks(read("docs/README.md")).map((l) => path.join("docs", l.split("#")[0])),
    );
    const unlinked = handbookPages().filter(
      (page) => page.startsWith("docs/") && page !== "docs/README.md" && !index.has(page),
    );
    expect(unlinked).toEqual([]);
  });
});
