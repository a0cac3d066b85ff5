export function ContractsPage() {
  return <h1>ContractsPage</h1>;
}
