import * as fs from "fs";

export default function globalTeardown(): void {
  const dir = process.env.GUINCHO_TEST_STAGE_CACHE;
  if (dir) {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
