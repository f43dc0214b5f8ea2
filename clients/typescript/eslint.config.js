// ESLint for the API client: ESLint's and typescript-eslint's recommended rules. Generated code
// (src/gen, from the protos) and build output are not linted.
import js from "@eslint/js";
import { defineConfig } from "eslint/config";
import tseslint from "typescript-eslint";

export default defineConfig(
  { ignores: ["dist/", "src/gen/"] },
  js.configs.recommended,
  tseslint.configs.recommended,
);
