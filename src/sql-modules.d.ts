/** SQL migrations are bundled as text (see the Text rule in wrangler.toml). */
declare module '*.sql' {
  const text: string;
  export default text;
}
