// Stacked bar charts with Chart.js (vendor/chart.umd.min.js, loaded by index.html as window.Chart). The caller
// keeps the numbers in a table beside the chart, so a missing library costs the picture, not the data.
import { h, notice } from './dom.js'

const COLOURS = ['#2f6bff', '#f28b30', '#1a9e77', '#c23b8c', '#7a5af8', '#d4a72c', '#3aa0c8', '#8c564b']

/**
 * A <canvas> with a stacked bar chart: `labels` on x, one dataset per entry of `datasets` ({label, data}).
 * Returns {node, destroy}; `node` is the canvas inside a sized box (Chart.js sizes to its parent).
 */
export function barChart({ testId, ariaLabel, labels, datasets }) {
  const canvas = h('canvas', { 'data-testid': testId, role: 'img', 'aria-label': ariaLabel })
  const box = h('div', { class: 'chart' }, canvas)
  const ChartJs = globalThis.Chart
  if (!ChartJs) {
    box.append(notice('error', 'The chart library did not load; the table has the same numbers.'))
    return { node: box, destroy: () => {} }
  }
  const chart = new ChartJs(canvas, {
    type: 'bar',
    data: { labels, datasets: datasets.map((d, i) => ({ ...d, backgroundColor: COLOURS[i % COLOURS.length] })) },
    options: {
      animation: false,
      maintainAspectRatio: false,
      scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true } },
      plugins: { legend: { display: datasets.length > 1 } },
    },
  })
  return { node: box, destroy: () => chart.destroy() }
}
