"""English and Japanese for the console: the words of its pages, the method's terms, and numbers, amounts
and dates formatted for the language. The language is the `lang` cookie (set on the page's switch), else
the browser's Accept-Language, else English."""

from __future__ import annotations

from datetime import UTC, date, datetime

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
    "people_in_store_n": ("{n} people in the store", "ストア内の人数 {n} 人"),
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
    # --- search and loss analysis drill-down / trend
    "email_or_name_starts": ("Email or name starts with", "メールアドレスまたは氏名（前方一致）"),
    "cell_title": ("Lost deals (失注分析)", "失注商談（失注分析）"),
    "cell_note": ("The deals behind one cell of the heat map: lost in this phase for this reason.",
                  "ヒートマップの1マスに含まれる商談：このフェーズでこの理由により失注したもの。"),
    "stage_at_loss": ("Stage at loss", "失注時のステージ"),
    "people_on_deal": ("People", "関係者"),
    "back_to_losses": ("Back to the loss analysis", "失注分析に戻る"),
    "no_deals": ("No deal in this cell.", "このマスに商談はありません。"),
    "open_cell": ("deals: list them", "件：一覧を表示"),
    "trend": ("Trend by quarter (失注分析)", "四半期ごとの推移（失注分析）"),
    "trend_note": ("Deals lost and their amount per quarter of the lost date, by phase group (high/low as "
                   "the mapping classifies phases) or by loss reason (the top reasons, the rest together).",
                   "失注日の四半期ごとの失注商談数と金額。フェーズ区分（マッピングの高/低）別、または失注理由"
                   "（上位の理由、その他はまとめて）別。"),
    "by_phase_group": ("By phase group", "フェーズ区分別"),
    "by_reason": ("By loss reason", "失注理由別"),
    "quarter": ("Quarter", "四半期"),
    "other_reasons": ("other reasons", "その他の理由"),
    "neither": ("neither high nor low", "高・低以外"),
    "no_lost_date": ("no lost date", "失注日なし"),
    "no_trend": ("No lost deal with a lost date yet.", "失注日のある失注商談はまだありません。"),
    # --- mapping editor
    "mapping": ("Mapping", "マッピング"),
    "ed_file": ("File", "ファイル"),
    "ed_version": ("Version", "バージョン"),
    "ed_versions": ("Versions", "バージョン履歴"),
    "ed_no_file": ("No mapping file to edit: the settings name none ([sync] mapping_file), so the bundled "
                   "default mapping is in use. It is shown read-only.",
                   "編集できるマッピングファイルがありません（設定の [sync] mapping_file が"
                   "未指定のため、同梱の既定マッピングを使用中）。閲覧のみで表示しています。"),
    "ed_read_only": ("Read-only: only an admin edits the mapping.",
                     "閲覧のみ：マッピングを編集できるのは管理者だけです。"),
    "ed_form": ("What admins change most", "よく変更する項目"),
    "ed_text": ("The whole file (TOML)", "ファイル全体（TOML）"),
    "ed_check": ("Check", "チェック"),
    "ed_save": ("Save", "保存"),
    "ed_preview": ("Preview impact", "影響をプレビュー"),
    "ed_valid": ("No errors.", "エラーはありません。"),
    "ed_errors": ("Errors (as `leadsync mappings validate` reports them):",
                  "エラー（`leadsync mappings validate` と同じ内容）："),
    "ed_invalid": ("The draft has errors: nothing was saved.",
                   "下書きにエラーがあります。保存していません。"),
    "ed_saved": ("Saved as a new version; every page now uses it.",
                 "新しいバージョンとして保存しました。すべてのページに反映されています。"),
    "ed_rolled_back": ("Rolled back: the earlier version was written as a new version; every page now "
                       "uses it.",
                       "ロールバックしました。以前のバージョンを新しいバージョンとして書き込み、"
                       "すべてのページに反映しました。"),
    "ed_stale": ("The mapping file changed since this page was loaded (saved by someone else or edited in a "
                 "text editor): nothing was written. Reload the page and make the change again.",
                 "このページを開いた後にマッピングファイルが変更されました（他の人の保存、またはテキストエディター"
                 "での編集）。何も書き込んでいません。ページを再読み込みしてから、もう一度変更してください。"),
    "ed_stale_check": ("The mapping file changed since this page was loaded: reload before saving.",
                       "このページを開いた後にマッピングファイルが変更されました。保存する前に再読み込みしてください。"),
    "ed_no_version": ("No such version.", "そのバージョンはありません。"),
    "ed_write_failed": ("The mapping file could not be written: nothing was saved.",
                        "マッピングファイルに書き込めませんでした。保存していません。"),
    "ed_behaviour": ("Behaviour points and caps (育成)", "行動スコアの点数と上限（育成）"),
    "ed_points": ("Points", "点数"),
    "ed_cap": ("Cap (events)", "上限（回数）"),
    "ed_thresholds": ("Rank thresholds (育成)", "ランクのしきい値（育成）"),
    "ed_threshold": ("Score at least", "スコア下限"),
    "ed_mql_score": ("mql (lifts an inquiry, 獲得)", "MQL（問い合わせを引き上げる・獲得）"),
    "ed_phases": ("Phase per opportunity stage", "商談ステージごとのフェーズ"),
    "ed_phase": ("Phase", "フェーズ"),
    "ed_classes": ("High and low phases (再育成)", "高・低フェーズ（再育成）"),
    "ed_class": ("Recycle group", "リサイクルグループ"),
    "ed_neither": ("neither", "どちらでもない"),
    "ed_waits": ("Waits (再育成)", "待機日数（再育成）"),
    "ed_days": ("Days", "日数"),
    "ed_wait_days": ("Wait after the loss", "失注後の待機"),
    "ed_max_age_days": ("Oldest loss recycled", "リサイクル対象とする失注の最長経過日数"),
    "ed_due_days": ("Call task due in", "架電タスクの期日"),
    "ed_excluded": ("Excluded loss reasons (失注分析)", "除外する失注理由（失注分析）"),
    "ed_one_a_line": ("One a line", "1行に1つ"),
    "ed_lists": ("Lists per rank and group", "ランク・グループごとのリスト"),
    "ed_campaign": ("Salesforce campaign", "Salesforce キャンペーン"),
    "ed_list": ("HubSpot list", "HubSpot リスト"),
    "ed_email": ("Email list", "メール配信リスト"),
    "ed_groups": ("List of each recycle group (再育成)", "リサイクルグループごとのリスト（再育成）"),
    "ed_group_list": ("List", "リスト"),
    "ed_no_list": ("no list", "リストなし"),
    "ed_policies": ("Write policies", "書き込みポリシー"),
    "ed_policy": ("Policy", "ポリシー"),
    "ed_action": ("Action", "操作"),
    "ed_by": ("By", "実行者"),
    "ed_act_found": ("found on disk", "ディスク上で検出"),
    "ed_act_save": ("saved", "保存"),
    "ed_act_rollback": ("rolled back", "ロールバック"),
    "ed_restored": ("restored", "復元元"),
    "ed_rollback": ("Roll back to this version", "このバージョンに戻す"),
    "ed_diff": ("Changes from the version before", "前のバージョンからの変更"),
    "ed_diff_link": ("Changes", "変更内容"),
    "ed_no_diff": ("The first version recorded: no earlier one to compare.",
                   "最初に記録したバージョンのため、比較対象はありません。"),
    "ed_whole": ("The whole file", "ファイル全体"),
    "ed_back": ("Back to the editor", "エディターに戻る"),
    "ed_no_versions": ("No version recorded yet.", "記録されたバージョンはまだありません。"),
    # --- perf: sign-in token, report cache
    "as_of_run": ("As of run", "集計対象: 実行"),
    "as_of_no_run": ("Before the first run", "初回の実行前"),
    "computed_at": ("computed", "集計"),
    "report_updating": ("a newer run finished: the figures are being updated (reload in a moment).",
                        "新しい実行が完了しました。数値を更新中です（しばらくして再読み込みしてください）。"),
    "report_computing": ("The report over everyone in the store is being computed; this page reloads by "
                         "itself when it is ready.",
                         "ストア全体のレポートを集計中です。完了するとこのページは自動で再読み込みされます。"),
    "report_failed": ("The report could not be computed (it is tried again on the next visit):",
                      "レポートを集計できませんでした（次回の表示時に再試行します）:"),
    "token_refused": ("This sign-in link is wrong or was already used: sign in with a password, or start "
                      "the console again with --token for a new link.",
                      "このサインインリンクは無効か、すでに使用されています。パスワードでサインインするか、"
                      "--token を付けてコンソールを再起動して新しいリンクを取得してください。"),
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

    def quarter(self, year: int, quarter: int) -> str:
        """A calendar quarter: "2026 Q3" / "2026年 第3四半期"."""
        return f"{year}年 第{quarter}四半期" if self.code == "ja" else f"{year} Q{quarter}"

    def day(self, day: date | None) -> str:
        """A calendar day: "4 Dec 2026" / "2026年12月4日"."""
        if day is None:
            return "–"
        return f"{day.year}年{day.month}月{day.day}日" if self.code == "ja" else f"{day.day} {day:%b %Y}"

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
