// Lint rules: typescript-eslint's recommended set, Pulumi's own rules (they need type
// information, hence the project service), and the few style rules that catch real bugs
// (curly, eqeqeq) or stray output (no-console).
import tseslint from "typescript-eslint";
import pulumi from "@pulumi/eslint-plugin";

export default tseslint.config(
  { ignores: ["node_modules/", "**/node_modules/", "coverage/", "bin/", "**/*.js", "**/*.mjs"] },
  ...tseslint.configs.recommended,
  {
    files: ["**/*.ts"],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    plugins: { "@pulumi": pulumi },
    rules: {
      "@pulumi/no-output-in-template-literal": "error",
      "@pulumi/no-output-instance-in-template-literal": "error",
      curly: "error",
      eqeqeq: ["error", "always"],
      "no-console": "error",
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_" }],
    },
  },
  {
    // Tests poke at raw, untyped config on purpose.
    files: ["tests/**/*.ts"],
    rules: { "@typescript-eslint/no-explicit-any": "off" },
  },
  {
    // Command-line tools and benchmarks talk to people on stdout and stderr.
    files: ["tools/**/*.ts"],
    rules: { "no-console": "off" },
  },
);
