export function App() {
  return <main>govx 控制台</main>;
}
