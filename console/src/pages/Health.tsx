import { Card, Col, Row, Statistic, Tag, Typography } from 'antd';
import * as echarts from 'echarts/core';
import { BarChart } from 'echarts/charts';
import { GridComponent, TooltipComponent } from 'echarts/components';
import { CanvasRenderer } from 'echarts/renderers';
import { useEffect, useRef } from 'react';
import { type Dataset, get } from '../api';
import { ErrorBox, Loading, useLoad } from '../common';
import { useLabel, useT } from '../i18n';

echarts.use([BarChart, GridComponent, TooltipComponent, CanvasRenderer]);

interface Readiness {
  status: string;
  checks: Array<{ name: string; ok: boolean; error?: string }>;
}

export function HealthPage() {
  const t = useT();
  const label = useLabel();
  const ready = useLoad(async () => {
    const res = await fetch('/readyz');
    return (await res.json()) as Readiness;
  }, []);
  const catalog = useLoad(() => get<{ items: Dataset[] }>('/v1/datasets?limit=500').then((r) => r.items), []);
  const chart = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (!chart.current || !catalog.data) return;
    const counts = new Map<string, number>();
    for (const d of catalog.data) counts.set(d.category, (counts.get(d.category) ?? 0) + 1);
    const c = echarts.init(chart.current);
    c.setOption({
      tooltip: {},
      grid: { left: 40, right: 16, top: 16, bottom: 60 },
      xAxis: { type: 'category', data: [...counts.keys()].map((k) => label('category', k)), axisLabel: { interval: 0, rotate: 20 } },
      yAxis: { type: 'value', minInterval: 1 },
      series: [{ type: 'bar', data: [...counts.values()], itemStyle: { color: '#b7312c' } }],
    });
    return () => c.dispose();
  }, [catalog.data]);
  return (
    <Row gutter={16}>
      <Col span={10}>
        <Card title={<Typography.Title level={4} style={{ margin: 0 }}>{t('运行状况', 'Health')}</Typography.Title>}>
          {ready.loading ? <Loading /> : ready.error ? <ErrorBox error={ready.error} /> : (
            <>
              <Statistic title={t('网关', 'Gateway')} value={ready.data!.status === 'ready' ? t('就绪', 'Ready') : t('不可用', 'Unavailable')} valueStyle={{ color: ready.data!.status === 'ready' ? '#3f8600' : '#cf1322' }} />
              {ready.data!.checks.map((c) => (
                <div key={c.name} style={{ marginTop: 8 }}>
                  <Tag color={c.ok ? 'green' : 'red'}>{c.ok ? 'OK' : t('故障', 'FAIL')}</Tag> {c.name === 'postgres' ? 'PostgreSQL' : c.name === 'kafka' ? 'Apache Kafka' : c.name} {c.error ?? ''}
                </div>
              ))}
            </>
          )}
        </Card>
      </Col>
      <Col span={14}>
        <Card title={t('各类别数据集数量', 'Datasets by category')}>
          <ErrorBox error={catalog.error} />
          <div ref={chart} style={{ height: 280 }} role="img" aria-label={t('各类别数据集数量柱状图', 'Bar chart of datasets by category')} />
        </Card>
      </Col>
    </Row>
  );
}
