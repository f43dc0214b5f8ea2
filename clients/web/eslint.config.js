// ESLint for the browser UI: ESLint's and typescript-eslint's recommended rules and the React
// hooks rules. Build output is not linted; the generated API code lives in clients/typescript.
import js from "@eslint/js";
import { defineConfig } from "eslint/config";
import reactHooks from "eslint-plugin-react-hooks";
import tseslint from "typescript-eslint";

export default defineConfig(
  { ignores: ["dist/"] },
  js.configs.recommended,
  tseslint.configs.recommended,
  reactHooks.configs.flat.recommended,
  {
    rules: {
      // The pages load their data in effects (`useEffect(() => void reload(), [reload])`, the
      // loader setting state when the answer arrives) and reset state when their inputs change;
      // this React Compiler rule reports every such effect. Rewriting the data flow would change
      // what the browser does, which linting must not.
      "react-hooks/set-state-in-effect": "off",
    },
  },
);
