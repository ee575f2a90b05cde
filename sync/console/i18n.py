"""English and Japanese for the console: the words of its pages, the method's terms, and numbers, amounts
and dates formatted for the language. The language is the `lang` cookie (set on the page's switch), else
the browser's Accept-Language, else English."""

from __future__ import annotations

from datetime import UTC, datetime

LANGS = ("en", "ja")
COOKIE = "leadsync_lang"

# key -> (English, Japanese). The method's terms: 獲得 generation, 育成 nurturing, 選別 qualification,
# 再育成 recycling, 失注分析 loss analysis; ranks ホット/ウォーム/コールド.
WORDS: dict[str, tuple[str, str]] = {
    "title": ("leadsync console", "leadsync コンソール"),
    "sign_in": ("Sign in", "サインイン"),
    "sign_out": ("Sign out", "サインアウト"),
    "user": ("User", "ユーザー"),
    "password": ("Password", "パスワード"),
    "refused": ("Wrong user name or password.", "ユーザー名またはパスワードが違います。"),
    "overview": ("Overview", "概要"),
    "users": ("Users", "ユーザー管理"),
    "role": ("Role", "権限"),
    "admin": ("admin", "管理者"),
    "viewer": ("viewer", "閲覧者"),
    "set_password": ("Set password", "パスワードを設定"),
    "saved": ("Saved.", "保存しました。"),
    "too_short": ("The password needs at least 12 characters.", "パスワードは12文字以上にしてください。"),
    "signed_in_as": ("Signed in as", "サインイン中:"),
    "language": ("Language", "言語"),
    "waterfall": ("Demand Waterfall (選別)", "デマンド・ウォーターフォール（選別）"),
    "stage": ("Stage", "ステージ"),
    "people": ("People", "人数"),
    "people_total": ("people in the store", "ストア内の人数"),
    "conversion": ("moved on", "次ステージへの転換率"),
    "conversion_note": ("Share of the people who entered a stage and then moved further along (stage "
                        "history, all cohorts); shown from 5 entries.",
                        "ステージに入った人のうち先のステージへ進んだ割合（ステージ履歴・全コホート）。5件以上で表示。"),
    "ranks": ("Ranks (育成)", "ランク（育成）"),
    "groups": ("Recycle groups (再育成)", "リサイクルグループ（再育成）"),
    "group": ("Group", "グループ"),
    "lost_amount": ("Lost amount", "失注金額"),
    "re_engaged": ("Re-engaged", "再エンゲージ"),
    "promoted": ("Promoted", "昇格"),
    "not_recycled": ("not in a recycle group", "リサイクル対象外"),
    "pipeline": ("Second pipeline", "第二のパイプライン"),
    "recycled": ("Recycled", "リサイクル"),
    "reengaged": ("Re-engaged", "再エンゲージ"),
    "called": ("Called", "架電タスク"),
    "completed": ("Completed", "完了"),
    "new_deals": ("New deals", "新規商談"),
    "new_amount": ("New amount", "新規商談金額"),
    "won": ("Won", "受注"),
    "won_amount": ("Won amount", "受注金額"),
    "no_pipeline": ("No recycle cycle recorded yet.", "リサイクルの記録はまだありません。"),
    "runs": ("Last runs", "最近の実行"),
    "run": ("Run", "実行"),
    "kind": ("Kind", "種類"),
    "status": ("Status", "状態"),
    "started": ("Started", "開始"),
    "api_calls": ("API calls", "API 呼び出し"),
    "no_runs": ("No run yet.", "実行履歴はまだありません。"),
    "failures": ("Open failures", "未解決の失敗"),
    "system": ("System", "システム"),
    "code": ("Code", "コード"),
    "count": ("Count", "件数"),
    "loss_analysis": ("Loss analysis (失注分析)", "失注分析"),
    "loss_reasons": ("Top loss reasons (失注分析)", "主な失注理由（失注分析）"),
    "reason": ("Loss reason", "失注理由"),
    "deals": ("Deals", "商談数"),
    "top_phase": ("Phase lost in most", "最多の失注フェーズ"),
    "people_page": ("People", "人物"),
    "search": ("Search", "検索"),
    "email_starts": ("Email starts with", "メールアドレス（前方一致）"),
    "email": ("Email", "メールアドレス"),
    "score": ("Score", "スコア"),
    "rank": ("Rank", "ランク"),
    "next_page": ("Next page", "次のページ"),
    "no_people": ("No one found.", "該当者はいません。"),
    "not_found": ("Not in the state store.", "ステートストアにいません。"),
    "decision": ("Decision now", "現在の判定"),
    "rules": ("Rules that fired", "適用されたルール"),
    "sf_contacts": ("Salesforce contacts", "Salesforce の取引先責任者"),
    "name": ("Name", "氏名"),
    "opted_out": ("Opted out", "配信停止"),
    "lost_deals": ("Deals", "商談"),
    "deal": ("Deal", "商談"),
    "phase": ("Phase at loss", "失注フェーズ"),
    "lost_on": ("Lost on", "失注日"),
    "amount": ("Amount", "金額"),
    "hs_contacts": ("HubSpot contacts", "HubSpot のコンタクト"),
    "property": ("Property", "プロパティ"),
    "value": ("Value", "値"),
    "written": ("Written", "書き込み"),
    "field": ("Field", "項目"),
    "wanted": ("Wanted now", "現在の値"),
    "last_written": ("Last written", "最後に書いた値"),
    "lists": ("Lists", "リスト"),
    "history": ("History", "履歴"),
    "moves": ("Moves", "変更"),
    "from": ("From", "変更前"),
    "to": ("To", "変更後"),
    "why": ("Why", "理由"),
    "at": ("When", "日時"),
    "cycles": ("Recycle cycles", "リサイクルサイクル"),
    "yes": ("yes", "はい"),
    "no": ("no", "いいえ"),
    "heat_note": ("Lost deals by the phase they were lost in (rows) and loss reason (columns): deals, then "
                  "amount; darker cells hold more deals.",
                  "失注フェーズ（行）× 失注理由（列）ごとの失注商談：件数と金額。色が濃いほど件数が多い。"),
    "total": ("Total", "合計"),
    "forbidden": ("Not allowed.", "許可されていません。"),
    "hot": ("hot", "ホット"),
    "warm": ("warm", "ウォーム"),
    "cold": ("cold", "コールド"),
    "high": ("high", "高"),
    "low": ("low", "低"),
    "waiting": ("waiting", "待機"),
    "excluded": ("excluded", "除外"),
    "review": ("review", "要確認"),
    "recycle": ("recycle (再育成)", "再育成"),
    "inquiry": ("Inquiry (獲得)", "問い合わせ（獲得）"),
    # --- impact preview (mapping change)
    "preview_title": ("Impact preview of the mapping change", "マッピング変更の影響プレビュー"),
    "preview_running": ("Deciding everyone under the current and the draft mapping, from the stored data "
                        "(no API call)…",
                        "保存済みデータから全員を現行マッピングと下書きで判定しています（API呼び出しなし）…"),
    "preview_gone": ("No such preview (it may have expired): run it again from the mapping editor.",
                     "このプレビューは見つかりません（期限切れの可能性があります）。マッピング編集から再実行してください。"),
    "preview_failed": ("The preview failed:", "プレビューに失敗しました:"),
    "preview_busy": ("A preview is already running.", "プレビューは実行中です。"),
    "preview_follow": ("Follow it", "進行状況を見る"),
    "preview_invalid": ("The draft mapping has errors (the same as `leadsync mappings validate`):",
                        "下書きのマッピングにエラーがあります（`leadsync mappings validate` と同じ内容）:"),
    "preview_draft": ("Draft mapping (TOML)", "下書きのマッピング（TOML）"),
    "preview_run": ("Preview the impact", "影響をプレビュー"),
    "preview_versions": ("Mapping version (current → draft)", "マッピングのバージョン（現行 → 下書き）"),
    "preview_changed": ("People who would change", "変化する人数"),
    "preview_score": ("People whose score changes", "スコアが変わる人数"),
    "preview_tasks": ("Call tasks to create", "作成されるコールタスク"),
    "preview_task": ("call task", "コールタスク"),
    "preview_stage": ("Stage changes (選別)", "ステージの変化（選別）"),
    "preview_rank": ("Rank changes (育成)", "ランクの変化（育成）"),
    "preview_group": ("Recycle group changes (再育成)", "リサイクルグループの変化（再育成）"),
    "preview_lists": ("Nurture list changes", "育成リストの変化"),
    "preview_added": ("Added", "追加"),
    "preview_removed": ("Removed", "削除"),
    "preview_records": ("Records to update", "更新するレコード"),
    "preview_writes": ("Writes and API calls per system (estimate)",
                       "システム別の書き込みとAPI呼び出し（見積もり）"),
    "preview_writes_note": ("An upper bound: fields a keep_manual or if_blank policy would leave are "
                            "counted; saving bumps the version, so a mapped explanation is rewritten on "
                            "every record.",
                            "上限の見積もりです（keep_manual・if_blank で書き込まれない項目も数えます）。"
                            "保存でバージョンが上がるため、説明項目は全レコードで書き換わります。"),
    "preview_sample": ("Sample of people who would change", "変化する人のサンプル"),
    "preview_before": ("Before", "変更前"),
    "preview_after": ("After", "変更後"),
    "preview_none": ("None.", "なし。"),
    "preview_dim_stage": ("stage", "ステージ"),
    "preview_dim_rank": ("rank", "ランク"),
    "preview_dim_group": ("recycle group", "リサイクルグループ"),
    "preview_dim_list": ("nurture list", "育成リスト"),
    "preview_dim_score": ("score", "スコア"),
    "preview_dim_task": ("call task", "コールタスク"),
    "preview_people": ("people", "人"),
    "preview_was": ("before:", "変更前:"),
}


class Lang:
    """The words and formats of one language."""

    def __init__(self, code: str) -> None:
        self.code = code if code in LANGS else "en"
        self._i = LANGS.index(self.code)

    def t(self, key: str) -> str:
        """The word for `key`; an unknown key (a stage or group name from the mapping) as it is."""
        words = WORDS.get(key)
        return words[self._i] if words else key

    def number(self, n: int | float) -> str:
        return f"{n:,}" if isinstance(n, int) else f"{n:,.1f}"

    def amount(self, amount: float) -> str:
        """English: grouped by thousands. Japanese: in 万 (10,000) and 億 (100,000,000), the units
        Japanese business writing counts money in (full value in the page's title attribute)."""
        if self.code == "ja" and abs(amount) >= 100_000_000:
            return f"{amount / 100_000_000:,.2f}億".replace(".00億", "億")
        if self.code == "ja" and abs(amount) >= 10_000:
            return f"{amount / 10_000:,.1f}万".replace(".0万", "万")
        return f"{amount:,.0f}"

    def rate(self, rate: float | None) -> str:
        return "–" if rate is None else f"{rate * 100:.1f}%"

    def when(self, at: datetime | None) -> str:
        """UTC, as each language writes dates."""
        if at is None:
            return "–"
        u = at.astimezone(UTC)
        if self.code == "ja":
            return f"{u.year}年{u.month}月{u.day}日 {u:%H:%M} UTC"
        return f"{u.day} {u:%b %Y %H:%M} UTC"


def choose(cookie: str | None, accept_language: str | None) -> Lang:
    if cookie in LANGS:
        return Lang(cookie)
    if accept_language and accept_language.strip().lower().startswith("ja"):
        return Lang("ja")
    return Lang("en")
