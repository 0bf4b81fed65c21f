import { Button, Card, Checkbox, DatePicker, Form, Input, Radio, Space, Typography } from 'antd';
import dayjs, { type Dayjs } from 'dayjs';
import { useEffect, useState } from 'react';
import { type Dataset, get, type Me, post, type Preview } from '../api';
import { ErrorBox, Loading, SensitivityTag, useLoad } from '../common';
import { useLang, useT } from '../i18n';
import { navigate } from '../router';
import { PreviewView } from './Preview';

export function RequestPage({ id }: { me: Me; id: string }) {
  const t = useT();
  const lang = useLang();
  const dataset = useLoad(() => get<Dataset>(`/v1/datasets/${encodeURIComponent(id)}`), [id]);
  const [fields, setFields] = useState<string[]>([]);
  const [preview, setPreview] = useState<Preview | null>(null);
  const [previewError, setPreviewError] = useState<unknown>(null);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    if (fields.length === 0) {
      setPreview(null);
      return;
    }
    let live = true;
    post<Preview>('/v1/subscriptions/preview', { dataset: id, fields }).then(
      (p) => live && (setPreview(p), setPreviewError(null)),
      (e) => live && setPreviewError(e),
    );
    return () => {
      live = false;
    };
  }, [id, fields.join(',')]);
  if (dataset.loading) return <Loading />;
  if (dataset.error) return <ErrorBox error={dataset.error} />;
  const d = dataset.data!;
  const submit = async (v: { purpose: string; legalBasis?: string; expiresAt: Dayjs; delivery: string }): Promise<void> => {
    setBusy(true);
    setError(null);
    try {
      await post('/v1/subscriptions', {
        dataset: id, fields, purpose: v.purpose, ...(v.legalBasis ? { legalBasis: v.legalBasis } : {}),
        expiresAt: v.expiresAt.endOf('day').toISOString(), delivery: v.delivery,
      });
      navigate('/requests');
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };
  return (
    <Card title={`${t('申请使用', 'Request access to')} ${lang === 'zh' ? d.title.zh : d.title.en}`}>
      <ErrorBox error={error} />
      <Form layout="vertical" onFinish={(v) => void submit(v as never)} initialValues={{ delivery: 'http', expiresAt: dayjs().add(1, 'year') }}>
        <Form.Item label={t('申请的信息项', 'Fields')} required>
          <Checkbox.Group value={fields} onChange={(v) => setFields(v as string[])} style={{ display: 'grid', gap: 4 }}>
            {d.fields.map((f) => (
              <Checkbox key={f.name} value={f.name}>
                <code>{f.name}</code> {f.description} <SensitivityTag level={f.sensitivity} />
              </Checkbox>
            ))}
          </Checkbox.Group>
        </Form.Item>
        <Typography.Title level={5}>{t('您将收到的数据（预览）', 'What you would receive (preview)')}</Typography.Title>
        <ErrorBox error={previewError} />
        {preview ? <PreviewView preview={preview} /> : <Typography.Paragraph type="secondary">{t('选择信息项后显示预览。', 'Choose fields to see a preview.')}</Typography.Paragraph>}
        <Form.Item name="purpose" label={t('用途', 'Purpose')} rules={[{ required: true, message: t('请说明用途', 'State the purpose') }]} style={{ marginTop: 16 }}>
          <Input.TextArea autoSize aria-label={t('用途', 'Purpose')} />
        </Form.Item>
        <Form.Item name="legalBasis" label={t('法律依据（可选）', 'Legal basis (optional)')}>
          <Input.TextArea autoSize aria-label={t('法律依据', 'Legal basis')} />
        </Form.Item>
        <Space size="large">
          <Form.Item name="expiresAt" label={t('使用期限至', 'Until')} rules={[{ required: true }]}>
            <DatePicker disabledDate={(x) => x.isBefore(dayjs())} />
          </Form.Item>
          <Form.Item name="delivery" label={t('接收方式', 'Delivery')}>
            <Radio.Group options={[{ value: 'http', label: 'HTTP' }, { value: 'kafka', label: 'Kafka' }, { value: 'connector', label: t('连接器', 'Connector') }]} />
          </Form.Item>
        </Space>
        <div>
          <Button type="primary" htmlType="submit" loading={busy} disabled={fields.length === 0}>{t('提交申请', 'Submit request')}</Button>
        </div>
      </Form>
    </Card>
  );
}
