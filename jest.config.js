/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: "node",
  roots: ["<rootDir>/tests"],
  testMatch: ["**/*.test.ts"],
  transform: { "^.+\\.ts$": ["@swc/jest"] },
  // Each file runs the Pulumi program in its own module registry; two workers fit 2 cores.
  maxWorkers: 2,
  testTimeout: 30000,
  collectCoverageFrom: ["*.ts", "components/**/*.ts", "policies/**/*.ts", "tools/**/*.ts"],
  coveragePathIgnorePatterns: ["/node_modules/", "/tests/", "jest.config.js"],
  coverageThreshold: {
    global: { statements: 85, branches: 75, functions: 85, lines: 85 },
  },
};
