// What Vite (or your bundler) defines: the broker's POST /token URL.
interface ImportMeta {
  readonly env: { readonly VITE_TOKEN_BROKER_URL: string };
}
