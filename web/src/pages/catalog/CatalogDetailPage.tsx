export function CatalogDetailPage() {
  return <h1>CatalogDetailPage</h1>;
}
