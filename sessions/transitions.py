"""The mediation session's audit actions and their words (odr.lifecycle's registry)."""

from __future__ import annotations

from django.utils.translation import gettext_noop

from odr.lifecycle import Words, register_events

register_events(
    {
        "session.schedule": Words(
            "安排调解会议", gettext_noop("%(actor)s scheduled a mediation session.")
        ),
        "session.pick": Words("选定调解会议时间"),
        "session.reschedule": Words(
            "调解会议改期", gettext_noop("%(actor)s moved a mediation session.")
        ),
        "session.cancel": Words(
            "取消调解会议", gettext_noop("%(actor)s cancelled a mediation session.")
        ),
        "session.start": Words("调解会议开始", gettext_noop("A mediation session began.")),
        "session.end": Words("调解会议结束", gettext_noop("%(actor)s ended a mediation session.")),
        "session.minutes": Words(
            "记录调解笔录", gettext_noop("%(actor)s wrote the minutes of a session.")
        ),
        "session.join": Words("进入调解会议"),
        "session.leave": Words("离开调解会议"),
        "session.admit": Words("准许进入调解会议"),
        "session.remove": Words("请出调解会议"),
        "session.caucus": Words("开始背对背调解"),
        "session.caucus_end": Words("结束背对背调解"),
        "session.chat": Words("调解会议留言"),
        "session.consent": Words("同意在线调解"),
        "session.self_test": Words("设备自检"),
        "session.recording_started": Words(
            "开始录像", gettext_noop("Recording of the session began.")
        ),
        "session.recording_saved": Words(
            "录像已保存", gettext_noop("The session recording was saved.")
        ),
        "session.recording_abandoned": Words(
            "录像已放弃", gettext_noop("The session recording could not be kept.")
        ),
    }
)
