"""Writes of the account part: registration, confirmation, profile, deletion (managers: moderation/services.py)."""

import hashlib
import logging
from datetime import time

from django.conf import settings
from django.core.cache import cache
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from core.data_versions import data_version_bump, data_version_bump_everyone
from users.account_emails import account_email_enqueue
from users.models import User
from users.tokens import confirmation_token_make

logger = logging.getLogger(__name__)


def _confirmation_send(*, user: User, base_url: str) -> None:
    link = base_url.rstrip("/") + reverse("users:confirm_email", args=[confirmation_token_make(user=user)])
    account_email_enqueue(
        name="confirm_email",
        to=user.email,
        context={
            "user": user,
            "link": link,
            "max_age_hours": settings.ACCOUNT_CONFIRMATION_MAX_AGE // 3600,
            "site_name": settings.SITE_NAME,
        },
    )


def user_register(*, email: str, password: str, first_name: str, last_name: str, base_url: str) -> User | None:
    """Create an inactive account and queue the email with its confirmation link.

    An address that is already registered gets no new account and no error on the page (which would tell anyone
    who has an account here): its owner is told by email instead, the link again if still unconfirmed, and
    None is returned. Either way the page says the same thing.
    """
    existing = User.objects.filter(email__iexact=email.strip()).first()
    if existing is None:
        try:
            with transaction.atomic():
                user = User.objects.create_user(
                    email=email,
                    password=password,
                    first_name=first_name,
                    last_name=last_name,
                    is_active=False,
                )
                _confirmation_send(user=user, base_url=base_url)
        except IntegrityError:
            # Two registrations of one address at the same moment: the database constraint decided.
            existing = User.objects.filter(email__iexact=email.strip()).first()
            if existing is None:
                raise
        else:
            # Starts the clock for registering this address again (the branch below).
            _resend_allowed(user.email, "register")
            logger.info("user registered: id=%s email=%s", user.pk, user.email)
            return user
    _registration_of_existing(user=existing, base_url=base_url)
    return None


def _registration_of_existing(*, user: User, base_url: str) -> None:
    # Limited like «send the link again»: registering someone's address over and over must not flood their inbox.
    if not _resend_allowed(user.email, "register"):
        logger.info("registration of an existing address not mailed (too soon): id=%s", user.pk)
        return
    with transaction.atomic():
        if user.email_confirmed_at is None and not user.is_blocked:
            _confirmation_send(user=user, base_url=base_url)
        else:
            root = base_url.rstrip("/")
            account_email_enqueue(
                name="register_existing",
                to=user.email,
                context={
                    "user": user,
                    "login_link": root + reverse("users:login"),
                    "reset_link": root + reverse("users:password_reset"),
                    "site_name": settings.SITE_NAME,
                },
            )
    logger.info("registration of an existing address: id=%s told by email", user.pk)


def user_confirm_email(*, user: User) -> bool:
    """Mark the address confirmed and let the user in; False if it was already done or the user is blocked.

    One conditional UPDATE, so two clicks on the same link confirm once.
    """
    now = timezone.now()
    updated = User.objects.filter(pk=user.pk, email_confirmed_at__isnull=True, blocked_at__isnull=True).update(
        email_confirmed_at=now, is_active=True
    )
    if not updated:
        return False
    user.email_confirmed_at = now
    user.is_active = True
    logger.info("user confirmed: id=%s email=%s", user.pk, user.email)
    return True


def _resend_cache_key(email: str, kind: str = "resend") -> str:
    return f"users:{kind}:" + hashlib.sha256(email.strip().lower().encode()).hexdigest()


def _resend_allowed(email: str, kind: str = "resend") -> bool:
    """At most one email of this kind per address per ACCOUNT_RESEND_INTERVAL."""
    key, now, interval = _resend_cache_key(email, kind), timezone.now().timestamp(), settings.ACCOUNT_RESEND_INTERVAL
    # add() is atomic, so two requests at once send one email. The stored time is checked too
    # because Redis expires keys on its own clock, which a moved clock (tests) does not reach.
    if cache.add(key, now, timeout=interval):
        return True
    last = cache.get(key)
    if last is not None and now - float(last) < interval:
        return False
    cache.set(key, now, timeout=interval)
    return True


def confirmation_resend(*, email: str, base_url: str) -> bool:
    """Queue a new confirmation link if the address belongs to an unconfirmed, unblocked account.

    Returns False when the address asked too recently (ACCOUNT_RESEND_INTERVAL);
    the limit applies to unknown addresses too, so the answer tells nothing.
    """
    if not _resend_allowed(email):
        return False
    user = User.objects.filter(
        email__iexact=email.strip(), email_confirmed_at__isnull=True, blocked_at__isnull=True
    ).first()
    if user is not None:
        with transaction.atomic():
            _confirmation_send(user=user, base_url=base_url)
        logger.info("confirmation resent: id=%s", user.pk)
    return True


def _per_ip_allowed(*, ip: str | None, kind: str, limit: int) -> bool:
    """At most `limit` requests of this kind from one client address per clock hour (0: no limit)."""
    if not limit or not ip:
        return True
    # The hour is part of the key, so the count starts afresh each hour on any cache and a moved clock.
    key = f"users:{kind}-ip:{int(timezone.now().timestamp() // 3600)}:" + hashlib.sha256(ip.encode()).hexdigest()
    cache.add(key, 0, timeout=3600)
    try:
        count = cache.incr(key)
    except ValueError:  # evicted between add() and incr()
        cache.set(key, 1, timeout=3600)
        count = 1
    return count <= limit


def password_reset_allowed(*, email: str, ip: str | None) -> bool:
    """May a reset link be emailed now? One per address per ACCOUNT_RESEND_INTERVAL, PASSWORD_RESET_PER_IP an hour.

    The limits apply to unknown addresses too and the page says the same either way, so it tells nothing.
    """
    if not _per_ip_allowed(ip=ip, kind="reset", limit=settings.PASSWORD_RESET_PER_IP):
        logger.info("password reset refused: too many from one address this hour")
        return False
    if not _resend_allowed(email, "reset"):
        logger.info("password reset refused: asked again too soon for the same address")
        return False
    return True


def user_password_reset_complete(*, user: User, password: str) -> User:
    """Set the new password; following the reset link proves the address, so it also confirms it."""
    user.set_password(password)
    fields = ["password"]
    if user.email_confirmed_at is None and not user.is_blocked:
        user.email_confirmed_at = timezone.now()
        user.is_active = True
        fields += ["email_confirmed_at", "is_active"]
        logger.info("user confirmed by password reset: id=%s email=%s", user.pk, user.email)
    user.save(update_fields=fields)
    return user


def _file_delete_on_commit(name: str) -> None:
    if name:
        storage = User._meta.get_field("avatar").storage
        transaction.on_commit(lambda: storage.delete(name))


def user_profile_update(
    *,
    user: User,
    first_name: str,
    last_name: str,
    phone: str,
    country: str,
    avatar: UploadedFile | None = None,
    remove_avatar: bool = False,
    sender_name: str | None = None,
    reply_to: str | None = None,
    time_zone: str | None = None,
    send_window: tuple[time | None, time | None, str] | None = None,
    language: str | None = None,
    finish_report: bool | None = None,
) -> User:
    """Save the profile; a new avatar replaces the old file, `remove_avatar` drops it.

    `sender_name` and `reply_to` (None: unchanged) are what the owner's mailings show in From and
    Reply-To (mailings/delivery/compose.py); the From address stays the SMTP account's.
    `time_zone` ("": the service's; None: unchanged) is the owner's clock: a change moves the next runs of
    their periodic mailings onto the new zone's calendar. `send_window` (start, end, ISO weekdays; None:
    unchanged) is the window new mailings start with.
    """
    # Compared with the stored zone: a model form has already written the new one onto `user`.
    stored_zone = User.objects.filter(pk=user.pk).values_list("time_zone", flat=True).first()
    zone_changed = time_zone is not None and time_zone != stored_zone
    old_avatar = user.avatar.name or ""
    user.first_name = first_name
    user.last_name = last_name
    user.phone = phone
    user.country = country
    fields = ["first_name", "last_name", "phone", "country"]
    if sender_name is not None:
        user.sender_name = sender_name
        fields.append("sender_name")
    if reply_to is not None:
        user.reply_to = reply_to
        fields.append("reply_to")
    if time_zone is not None:
        user.time_zone = time_zone
        fields.append("time_zone")
    if send_window is not None:
        user.send_window_start, user.send_window_end, user.send_window_days = send_window
        fields += ["send_window_start", "send_window_end", "send_window_days"]

    if language:
        user.language = language
        fields.append("language")
    if finish_report is not None:
        user.finish_report = finish_report
        fields.append("finish_report")
    if avatar is not None:
        user.avatar = avatar
        fields.append("avatar")
    elif remove_avatar:
        user.avatar = ""
        fields.append("avatar")
    with transaction.atomic():
        user.save(update_fields=fields)
        if "avatar" in fields and old_avatar != (user.avatar.name or ""):
            _file_delete_on_commit(old_avatar)
        # Pages show people by name: managers' pages their owners, owners' pages the manager who disabled a mailing.
        data_version_bump_everyone()
    if zone_changed:
        _mailings_follow_zone(user=user)
    return user


def _mailings_follow_zone(*, user: User) -> None:
    """Put the next runs of the owner's periodic mailings on their new zone's calendar (a DST zone moves them)."""
    # The scheduler's rule lives in the mailings app; users only asks it (no import at module level: mailings
    # imports users.models).
    from mailings.delivery.schedule import mailing_reschedule
    from mailings.models import Mailing

    now = timezone.now()
    periodic = (
        # A run already due is the scheduler's to start, not to move.
        Mailing.objects.filter(owner=user, next_run_at__gt=now)
        .exclude(periodicity=Mailing.Periodicity.ONCE)
        .select_related("owner")
    )
    for mailing in periodic:
        mailing.owner = user
        mailing_reschedule(mailing=mailing, now=now)


def user_delete(*, user: User) -> None:
    """Delete the account and, through the database cascade, its recipients, messages and mailings."""
    user_id, email, avatar = user.pk, user.email, user.avatar.name or ""
    with transaction.atomic():
        # Mailing.message is PROTECT: the mailings have to go before the cascade reaches the messages.
        user.mailings.all().delete()
        user.delete()
        _file_delete_on_commit(avatar)
        data_version_bump(owner_id=user_id)
        # A deleted manager is no longer named on the mailings they disabled.
        data_version_bump_everyone()
    logger.info("user deleted: id=%s email=%s", user_id, email)
