import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

// The console is served by the gateway at /console (gateway/consoleRoutes.ts); `npm run build` writes it to console/dist.
export default defineConfig({
  root: __dirname,
  base: '/console/',
  plugins: [react()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    chunkSizeWarningLimit: 4000,
    reportCompressedSize: false,
    rollupOptions: {
      output: {
        manualChunks: (id) => (id.includes('echarts') || id.includes('zrender') ? 'charts' : id.includes('node_modules') ? 'vendor' : undefined),
      },
    },
  },
});
