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
    # --- runs and failures (sync/console/runs_pages.py)
    "runs_page": ("Runs", "実行履歴"),
    "run_history": ("Run history", "実行履歴"),
    "duration": ("Duration", "所要時間"),
    "seconds": ("s", "秒"),
    "mapping_version": ("Mapping version", "マッピングのバージョン"),
    "records_updated": ("Records updated", "更新したレコード"),
    "write_failures": ("Write failures", "書き込み失敗"),
    "quarantined": ("Quarantined", "隔離"),
    "error": ("Error", "エラー"),
    "older": ("Older runs", "以前の実行"),
    "newest": ("Newest runs", "最新の実行"),
    "counts": ("Counts", "件数"),
    "no_run": ("No such run.", "該当する実行はありません。"),
    "run_failures": ("Failures of this run", "この実行の失敗"),
    "record": ("Record", "レコード"),
    "failure_stage": ("Stage of the run", "処理段階"),
    "message": ("Message", "メッセージ"),
    "attempts": ("Attempts", "試行回数"),
    "first_seen": ("First seen", "初回発生"),
    "last_seen": ("Last seen", "最終発生"),
    "resolved": ("Resolved", "解決済み"),
    "no_failures": ("No open failure.", "未解決の失敗はありません。"),
    "only_run": ("Only run", "対象の実行"),
    "all_failures": ("All open failures", "すべての未解決の失敗"),
    "retry_now": ("Retry now (start a run)", "今すぐ再実行（同期を開始）"),
    "retry_note": ("Starts one sync run as `leadsync sync` does, under the same run lock; records that "
                   "failed before are tried again.",
                   "`leadsync sync` と同じ処理・同じ実行ロックで同期を1回実行します。"
                   "以前失敗したレコードも再試行されます。"),
    "retry_unavailable": ("This console was opened without a way to start runs.",
                          "このコンソールからは実行を開始できません。"),
    "stop_run": ("Stop this run", "この実行を停止"),
    "stop_note": ("The run stops after its current batch (recorded as interrupted); the next run carries on.",
                  "現在のバッチの後で停止します（中断として記録）。次の実行が続きを処理します。"),
    "nothing_to_stop": ("No run started from this console is going.",
                        "このコンソールから開始した実行は動いていません。"),
    "stop_requested": ("Stop requested: the run ends after its current batch.",
                       "停止を要求しました。現在のバッチの後で終了します。"),
    "run_going": ("A run started from this console is going", "このコンソールから開始した実行が進行中です"),
    "job_page": ("Run started from the console", "コンソールから開始した実行"),
    "no_job": ("No such job (finished jobs are kept for an hour).",
               "該当するジョブはありません（終了したジョブは1時間保持されます）。"),
    "job_phase": ("Phase", "段階"),
    "job_done": ("Done", "処理済み"),
    "job_running": ("Running… this page refreshes itself.", "実行中… このページは自動で更新されます。"),
    "job_started_by": ("Started by", "開始したユーザー"),
    "run_result": ("Finished", "終了"),
    "run_locked": ("Another run holds the run lock, so this one did not start. Try again when it has "
                   "finished.", "別の実行が実行ロックを保持しているため、開始しませんでした。"
                                "終了後にもう一度お試しください。"),
    "run_crashed": ("The run could not be started or stopped with an error.",
                    "実行を開始できなかったか、エラーで終了しました。"),
    "see_run": ("See the run", "実行の詳細"),
    "starting": ("starting", "開始中"),
    "people_phase": ("deciding and writing people", "判定と書き込み"),
    "salesforce deals": ("reading Salesforce deals", "Salesforce の商談を読み込み中"),
    "salesforce call tasks": ("reading Salesforce call tasks", "Salesforce の架電タスクを読み込み中"),
    "hubspot contacts": ("reading HubSpot contacts", "HubSpot のコンタクトを読み込み中"),
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
