"""/stats: the statistics page's figures, in all and per mailing."""

from typing import Any

from ninja import Query, Router

from api.endpoints.common import answers, user_of
from api.pagination import MAX_LIMIT, page
from api.schemas import MailingStatsOut, StatsOut, page_of
from mailings.selectors import stats_per_mailing, stats_totals

router = Router(tags=["statistics"])
MailingStatsPage = page_of(MailingStatsOut, "MailingStatsPage")


@router.get("", response=answers({200: StatsOut}), summary="Итоги по всем рассылкам")
def stats_index(request: Any) -> dict[str, int]:
    return stats_totals(user=user_of(request))


@router.get("/mailings", response=answers({200: MailingStatsPage}), summary="Итоги по каждой рассылке")
def stats_mailings(
    request: Any, cursor: str | None = Query(None, max_length=100), limit: int = Query(100, ge=1, le=MAX_LIMIT)
) -> dict[str, Any]:
    return page(stats_per_mailing(user=user_of(request)), cursor=cursor, limit=limit)
