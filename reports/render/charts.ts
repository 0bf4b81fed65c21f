/** Charts of the sharing report, rendered on the server to SVG by ECharts (no browser, no script in the page). */
import * as echarts from 'echarts';

const FONT = '"Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC", "Microsoft YaHei", sans-serif';
const PALETTE = ['#2f5597', '#c55a11', '#548235', '#7f6000', '#7030a0', '#2e75b6'];

function render(option: echarts.EChartsCoreOption, width: number, height: number): string {
  const chart = echarts.init(null, null, { renderer: 'svg', ssr: true, width, height });
  try {
    chart.setOption({ animation: false, color: PALETTE, textStyle: { fontFamily: FONT }, ...option });
    return chart.renderToSVGString();
  } finally {
    chart.dispose();
  }
}

const percent = (rate: number | null): number | null => (rate === null ? null : Math.round(rate * 1000) / 10);

/** Grouped bars: several rates (0–1) per category, shown in percent. */
export function rateBars(title: string, categories: string[], series: Array<{ name: string; rates: Array<number | null> }>, width = 680): string {
  return render(
    {
      title: { text: title, left: 'center', textStyle: { fontSize: 14 } },
      legend: { bottom: 0 },
      grid: { left: 48, right: 16, top: 56, bottom: 70, containLabel: true },
      xAxis: { type: 'category', data: categories, axisLabel: { interval: 0, rotate: categories.length > 5 ? 30 : 0, fontSize: 10 } },
      yAxis: { type: 'value', min: 0, max: 100, axisLabel: { formatter: '{value}%' } },
      series: series.map((s) => ({ name: s.name, type: 'bar', data: s.rates.map(percent), label: { show: true, position: 'top', fontSize: 9, formatter: '{c}%' } })),
    },
    width,
    Math.max(300, 260 + (categories.length > 5 ? 40 : 0)),
  );
}

/** Stacked bars of counts per category, one stack member per series. */
export function stackedCounts(title: string, categories: string[], series: Array<{ name: string; values: number[] }>, width = 680): string {
  return render(
    {
      title: { text: title, left: 'center', textStyle: { fontSize: 14 } },
      legend: { bottom: 0 },
      grid: { left: 48, right: 16, top: 40, bottom: 70, containLabel: true },
      xAxis: { type: 'category', data: categories, axisLabel: { interval: 0, rotate: categories.length > 5 ? 30 : 0, fontSize: 10 } },
      yAxis: { type: 'value', minInterval: 1 },
      series: series.map((s) => ({ name: s.name, type: 'bar', stack: 'total', data: s.values })),
    },
    width,
    300,
  );
}

/** A ring of shares, e.g. records by channel or requests by outcome. */
export function shareRing(title: string, parts: Array<{ name: string; value: number }>, width = 330): string {
  return render(
    {
      title: { text: title, left: 'center', textStyle: { fontSize: 13 } },
      legend: { bottom: 0, textStyle: { fontSize: 10 } },
      series: [
        {
          type: 'pie',
          radius: ['35%', '60%'],
          center: ['50%', '50%'],
          data: parts.filter((p) => p.value > 0),
          label: { formatter: '{c}', fontSize: 10 },
        },
      ],
    },
    width,
    260,
  );
}
