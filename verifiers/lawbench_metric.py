"""LawBench 3-3 (charge prediction) metric: per-case set F1, averaged over cases.

Two scorers share one definition of F1:

* :func:`score_predictions` scores structured predictions (a list of charge names per case), the
  interface a candidate's ``predict`` returns. An empty or unparseable answer is F1 0 for its case
  (abstention is wrong), so a candidate cannot raise its score by abstaining on hard cases.
* :func:`lawbench_text_score` mirrors LawBench's own scorer for free-text answers
  (``evaluation/evaluation_functions/ljp_accusation.py`` and ``compute_f1_two_sets`` in
  ``evaluation/utils/function_utils.py`` of open-compass/LawBench): a charge counts as predicted when
  its name is a substring of the answer text, then set F1 per case, averaged. It is used to score
  published free-text predictions, such as GPT-4's zero-shot answers.

:data:`CHARGES` is the list of 189 charge names from LawBench's scorer (``option_list`` in
``ljp_accusation.py``), in its order. LawBench is Copyright its authors, Apache License 2.0
(https://github.com/open-compass/LawBench). Note that 13 of the charges found in the gold answers of
3-3 are not in this list; LawBench's text scorer can never credit them, and we keep that behaviour in
:func:`lawbench_text_score` so its numbers match the published ones.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from pydantic import BaseModel, ConfigDict

ANSWER_PREFIX = "罪名:"
"""Every LawBench 3-3 gold answer starts with this prefix, then charges separated by ``;``."""

# From LawBench evaluation/evaluation_functions/ljp_accusation.py (Apache-2.0), order preserved:
# the text scorer's output depends on the order only through which names are listed, not the score.
CHARGES: tuple[str, ...] = (
    '侮辱', '违法发放贷款', '失火', '票据诈骗', '帮助犯罪分子逃避处罚', '重大责任事故',
    '对非国家工作人员行贿', '非法制造、销售非法制造的注册商标标识',
    '非法制造、买卖、运输、邮寄、储存枪支、弹药、爆炸物', '非法获取公民个人信息',
    '扰乱无线电通讯管理秩序', '非法持有、私藏枪支、弹药', '拒不执行判决、裁定', '虚开发票',
    '巨额财产来源不明', '组织、领导、参加黑社会性质组织', '非法获取国家秘密', '以危险方法危害公共安全',
    '非法持有毒品', '聚众扰乱公共场所秩序、交通秩序', '包庇毒品犯罪分子', '滥伐林木',
    '伪造公司、企业、事业单位、人民团体印章', '非法占用农用地', '走私废物', '串通投标',
    '非法采伐、毁坏国家重点保护植物', '冒充军人招摇撞骗', '玩忽职守', '重婚',
    '招收公务员、学生徇私舞弊', '组织、领导传销活动', '非法猎捕、杀害珍贵、濒危野生动物', '侵犯著作权',
    '非法种植毒品原植物', '伪造、变造、买卖武装部队公文、证件、印章', '倒卖文物',
    '伪造、变造居民身份证', '滥用职权', '诽谤', '猥亵儿童', '非法转让、倒卖土地使用权', '挪用公款',
    '污染环境', '出售、购买、运输假币', '敲诈勒索', '高利转贷', '故意伤害', '持有、使用假币',
    '单位受贿', '强奸', '引诱、容留、介绍卖淫', '虐待', '生产、销售伪劣农药、兽药、化肥、种子',
    '妨害公务', '容留他人吸毒', '拐骗儿童', '强制猥亵、侮辱妇女', '非法处置查封、扣押、冻结的财产',
    '骗取贷款、票据承兑、金融票证', '强迫他人吸毒', '非法拘禁',
    '非法携带枪支、弹药、管制刀具、危险物品危及公共安全', '绑架', '聚众斗殴', '破坏计算机信息系统',
    '制造、贩卖、传播淫秽物品', '虐待被监管人', '贷款诈骗', '赌博', '徇私舞弊不征、少征税款',
    '盗窃、抢夺枪支、弹药、爆炸物、危险物质', '故意杀人', '介绍贿赂',
    '提供侵入、非法控制计算机信息系统程序、工具', '编造、故意传播虚假恐怖信息', '妨害作证', '强迫卖淫',
    '走私、贩卖、运输、制造毒品', '伪证', '拐卖妇女、儿童', '过失损坏武器装备、军事设施、军事通信',
    '破坏广播电视设施、公用电信设施', '洗钱', '职务侵占', '倒卖车票、船票', '抢劫', '侵占',
    '掩饰、隐瞒犯罪所得、犯罪所得收益', '徇私舞弊不移交刑事案件', '引诱、教唆、欺骗他人吸毒', '遗弃',
    '生产、销售伪劣产品', '放火', '非法采矿', '对单位行贿', '盗窃、抢夺枪支、弹药、爆炸物',
    '破坏易燃易爆设备', '妨害信用卡管理', '制作、复制、出版、贩卖、传播淫秽物品牟利', '金融凭证诈骗',
    '私分国有资产', '走私国家禁止进出口的货物、物品', '假冒注册商标', '危险物品肇事',
    '走私普通货物、物品', '经济犯', '虚报注册资本', '盗掘古文化遗址、古墓葬', '传播淫秽物品',
    '窝藏、包庇', '拒不支付劳动报酬', '行贿', '开设赌场', '传授犯罪方法', '协助组织卖淫', '保险诈骗',
    '破坏生产经营', '破坏交通设施', '打击报复证人', '非法侵入住宅', '非国家工作人员受贿',
    '过失致人重伤', '伪造、变造金融票证', '窝藏、转移、隐瞒毒品、毒赃', '帮助毁灭、伪造证据',
    '走私珍贵动物、珍贵动物制品', '生产、销售假药', '逃税', '挪用特定款物', '聚众扰乱社会秩序',
    '组织、强迫、引诱、容留、介绍卖淫', '合同诈骗', '非法生产、销售间谍专用器材', '破坏交通工具',
    '传播性病', '强迫交易', '隐匿、故意销毁会计凭证、会计帐簿、财务会计报告', '非法组织卖血',
    '强迫劳动', '破坏电力设备', '销售假冒注册商标的商品', '收买被拐卖的妇女、儿童', '诬告陷害', '脱逃',
    '非法经营', '徇私枉法', '信用卡诈骗', '生产、销售不符合安全标准的食品', '非法行医', '伪造货币',
    '动植物检疫徇私舞弊', '单位行贿', '破坏监管秩序', '盗窃', '盗伐林木', '重大劳动安全事故',
    '非法吸收公众存款', '非法制造、出售非法制造的发票', '非法狩猎', '组织卖淫',
    '非法买卖、运输、携带、持有毒品原植物种子、幼苗', '挪用资金', '诈骗',
    '伪造、变造、买卖国家机关公文、证件、印章', '持有伪造的发票', '贪污', '非法生产、买卖警用装备',
    '投放危险物质', '伪造、倒卖伪造的有价票证', '集资诈骗', '抢夺', '生产、销售有毒、有害食品',
    '非法捕捞水产品', '过失致人死亡', '非法买卖制毒物品',
    '虚开增值税专用发票、用于骗取出口退税、抵扣税款发票', '寻衅滋事', '危险驾驶', '故意毁坏财物',
    '招摇撞骗', '盗窃、侮辱尸体', '走私武器、弹药',
    '非法收购、运输、加工、出售国家重点保护植物、国家重点保护植物制品', '非法出售发票',
    '劫持船只、汽车', '受贿', '聚众哄抢', '交通肇事',
)


class F1Report(BaseModel):
    """F1 of structured charge predictions, averaged per case (LawBench's averaging)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    f1: float
    """Mean over cases of the set F1 between predicted and gold charges, in [0, 1]."""
    precision: float
    """Mean over cases of the set precision (0 for an empty prediction), in [0, 1]."""
    recall: float
    """Mean over cases of the set recall, in [0, 1]."""
    n: int
    """Number of cases scored."""
    n_empty: int
    """Cases whose answer was empty, missing or unparseable; each scored F1 0."""
    per_case_f1: tuple[float, ...]
    """F1 of each case, in input order (for canary and drift analysis)."""


class LawBenchTextReport(BaseModel):
    """Result of LawBench's own 3-3 scorer on free-text answers."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    f1: float
    """Mean per-case F1 in [0, 1]; LawBench reports it times 100."""
    abstention_rate: float
    """Fraction of answers in which no charge name of :data:`CHARGES` was found."""
    n: int
    """Number of cases scored."""


def _set_prf(pred: set[str], gold: set[str]) -> tuple[float, float, float]:
    """Precision, recall and F1 of two sets, 0 where undefined (as ``compute_f1_two_sets``)."""
    hit = len(pred & gold)
    precision = hit / len(pred) if pred else 0.0
    recall = hit / len(gold) if gold else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0
    return precision, recall, f1


def normalize_charge(name: str) -> str:
    """Canonical form of one charge name: stripped, without a trailing ``罪`` ("crime").

    No LawBench charge name ends in ``罪``, while models often append it ("盗窃罪"); LawBench's
    substring matching accepts both, so the structured scorer does too.
    """
    name = name.strip()
    return name[:-1].strip() if name.endswith("罪") else name


def parse_prediction(raw: object) -> set[str] | None:
    """The set of normalised charge names in one candidate answer, or None if unparseable.

    Args:
        raw: one element of a candidate's output; must be a list or tuple of strings.

    Returns:
        The non-empty normalised names, or None when ``raw`` is not a list/tuple of ``str``
        (a candidate's malformed answer is scored as wrong, never raised).
    """
    if not isinstance(raw, list | tuple) or not all(isinstance(x, str) for x in raw):
        return None
    return {n for n in (normalize_charge(x) for x in raw) if n}


def parse_answer(answer: str) -> list[str]:
    """Gold charges of a LawBench answer string ``罪名:A;B``.

    Raises:
        ValueError: the answer does not start with ``罪名:`` (the data file is not LawBench 3-3).
    """
    if not answer.startswith(ANSWER_PREFIX):
        raise ValueError(f"LawBench 3-3 answer does not start with {ANSWER_PREFIX!r}: {answer[:40]!r}")
    return answer[len(ANSWER_PREFIX) :].split(";")


def score_predictions(predictions: Sequence[object], golds: Sequence[Sequence[str]]) -> F1Report:
    """Score structured predictions against gold charge lists, one pair per case.

    Args:
        predictions: one answer per case, each a list of charge names. Anything else (None, a
            string, a list holding non-strings) and empty lists count as empty: F1 0.
        golds: the gold charges of each case, in the same order.

    Returns:
        The per-case averaged F1, precision and recall.

    Raises:
        ValueError: the two sequences differ in length, there are no cases, or a gold list is
            empty (these are verifier bugs, not candidate faults; align by id with
            :func:`score_by_id` when the candidate's output may be incomplete).
    """
    if len(predictions) != len(golds):
        raise ValueError(f"{len(predictions)} predictions for {len(golds)} gold cases")
    if not golds:
        raise ValueError("no cases to score")
    ps: list[float] = []
    rs: list[float] = []
    fs: list[float] = []
    n_empty = 0
    for raw, gold in zip(predictions, golds, strict=True):
        gold_set = {normalize_charge(g) for g in gold if normalize_charge(g)}
        if not gold_set:
            raise ValueError("a gold case has no charges")
        pred = parse_prediction(raw)
        if not pred:
            n_empty += 1
            pred = set()
        p, r, f = _set_prf(pred, gold_set)
        ps.append(p)
        rs.append(r)
        fs.append(f)
    n = len(golds)
    return F1Report(
        f1=sum(fs) / n, precision=sum(ps) / n, recall=sum(rs) / n, n=n, n_empty=n_empty,
        per_case_f1=tuple(fs),
    )


def score_by_id(predictions: Mapping[str, object], golds: Mapping[str, Sequence[str]]) -> F1Report:
    """Score a candidate's ``{case_id: charges}`` answer over the gold ids.

    A gold id missing from ``predictions`` counts as empty; ids not in ``golds`` are ignored, so a
    candidate gains nothing from extra or misaligned output.

    Raises:
        ValueError: ``golds`` is empty or holds an empty gold list.
    """
    ids = sorted(golds)
    return score_predictions([predictions.get(i) for i in ids], [golds[i] for i in ids])


def extract_charges_lawbench(text: str) -> list[str]:
    """Charges LawBench's scorer reads from a free-text answer: every listed name that is a substring.

    This keeps LawBench's quirks on purpose: "盗窃、抢夺枪支、弹药、爆炸物" also yields "盗窃", and a
    charge outside :data:`CHARGES` is never found.
    """
    return [c for c in CHARGES if c in text]


def lawbench_text_score(prediction_texts: Sequence[str], answers: Sequence[str]) -> LawBenchTextReport:
    """LawBench's own 3-3 score of free-text answers against ``罪名:A;B`` gold strings.

    Args:
        prediction_texts: the model's raw answers, one per case.
        answers: the gold answer strings of the same cases.

    Returns:
        Mean per-case F1 and the abstention rate, as LawBench's ``compute_ljp_accusation``.

    Raises:
        ValueError: lengths differ, no cases, or an answer lacks the ``罪名:`` prefix.
    """
    if len(prediction_texts) != len(answers):
        raise ValueError(f"{len(prediction_texts)} predictions for {len(answers)} answers")
    if not answers:
        raise ValueError("no cases to score")
    scores: list[float] = []
    abstentions = 0
    for text, answer in zip(prediction_texts, answers, strict=True):
        pred = extract_charges_lawbench(text)
        if not pred:
            abstentions += 1
        scores.append(_set_prf(set(pred), set(parse_answer(answer)))[2])
    n = len(answers)
    return LawBenchTextReport(f1=sum(scores) / n, abstention_rate=abstentions / n, n=n)
