"""The `mixd` command: run the server, manage accounts and channels, export and
import all data, check configuration."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

from mixd.app import open_database, run, stores
from mixd.config import Config, ConfigError, load_config
from mixd.core.server import Stores
from mixd.errors import StanzaError
from mixd.portable.command import ImportInterrupted, export_to, import_from
from mixd.portable.format import DumpError
from mixd.portable.importer import TargetNotEmpty
from mixd.services.accounts import AccountError, AccountService, erase_messages
from mixd.services.mix import rules as mix_rules
from mixd.services.mix.admin.offline import ChannelAdminError, OfflineChannels
from mixd.storage.contracts.mix import ChannelExists
from mixd.storage.errors import AccountExists, AccountNotFound, StorageError


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mixd", description="XMPP server with MIX group chat")
    parser.add_argument("--config", type=Path, help="TOML configuration file")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("run", help="start the server")
    user = sub.add_parser("user", help="manage accounts").add_subparsers(
        dest="action", required=True
    )
    for action in ("add", "passwd"):
        p = user.add_parser(action, help=f"{action} an account (password read from stdin/tty)")
        p.add_argument("jid", help="user@host")
        p.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    user.add_parser(
        "import", help="add accounts in bulk: one 'user@host password' line each, from stdin"
    )
    user.add_parser("delete", help="delete an account").add_argument("jid")
    user.add_parser("list", help="list accounts").add_argument("host", nargs="?")
    channel = sub.add_parser("channel", help="manage MIX channels (server stopped)")
    channels = channel.add_subparsers(dest="action", required=True)
    channels.add_parser("list", help="list channels, ad hoc ones too").add_argument(
        "service", nargs="?", help="one MIX domain (default: all)"
    )
    create = channels.add_parser("create", help="create a channel")
    create.add_argument("jid", help="name@mix-domain")
    create.add_argument("--owner", required=True, help="the owner's bare JID")
    channels.add_parser("destroy", help="destroy a channel").add_argument("jid")
    channels.add_parser("info", help="show a channel's configuration").add_argument("jid")
    _portable_parsers(sub)
    check = sub.add_parser("config", help="configuration").add_subparsers(
        dest="action", required=True
    )
    check.add_parser("check", help="validate the configuration and exit")
    # `mixd run --config X` reads naturally too.
    subcommands = (*user.choices.values(), *channels.choices.values(), *check.choices.values())
    for p in (sub.choices["run"], sub.choices["export"], sub.choices["import"], *subcommands):
        p.add_argument("--config", type=Path, default=argparse.SUPPRESS)
    return parser


def _portable_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    export = sub.add_parser(
        "export",
        help="write all data as an XEP-0227 document (server stopped)",
        description="Write every account, roster, archive, offline message, PEP node,"
        " vCard and MIX channel to FILE (default: standard output) as an XEP-0227"
        " document. Run it while the server is stopped. Passwords are exported as"
        " SCRAM verifiers only.",
    )
    export.add_argument("file", nargs="?", type=Path, help="output file (default: stdout)")
    load = sub.add_parser(
        "import",
        help="load a `mixd export` document (server stopped)",
        description="Load a document written by `mixd export` from FILE (default:"
        " standard input). The whole document is checked before anything is"
        " written, so a bad one leaves the database unchanged. A database that"
        " already holds data is refused unless --merge. Run it while the server"
        " is stopped.",
    )
    load.add_argument("file", nargs="?", type=Path, help="input file (default: stdin)")
    load.add_argument(
        "--merge",
        action="store_true",
        help="import into a database holding data: existing accounts and channels are"
        " kept as they are, the rest is added (also resumes an interrupted import)",
    )


def _portable_command(config: Config, args: argparse.Namespace) -> None:
    if args.command == "export":
        done = asyncio.run(export_to(config, args.file))
        print(
            f"exported {done.accounts} accounts, {done.channels} channels,"
            f" {done.entries} archive entries",
            file=sys.stderr,
        )
        return
    loaded = asyncio.run(import_from(config, args.file, merge=args.merge))
    print(
        f"imported {loaded.accounts} accounts, {loaded.channels} channels,"
        f" {loaded.entries} archive entries (kept as they were: {loaded.skipped_accounts}"
        f" accounts, {loaded.skipped_channels} channels)",
        file=sys.stderr,
    )


def _read_password(from_stdin: bool) -> str:
    if from_stdin or not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("Password: ")
    if first != getpass.getpass("Repeat password: "):
        raise AccountError("passwords do not match")
    return first


async def _with_accounts(
    config: Config, action: Callable[[AccountService, Stores], Awaitable[None]]
) -> None:
    db = open_database(config)
    await db.open()
    try:
        all_stores = stores(db)
        service = AccountService(
            all_stores.accounts, frozenset(config.server.hosts), config.auth.scram_iterations
        )
        await action(service, all_stores)
    finally:
        await db.close()


def _user_command(config: Config, args: argparse.Namespace) -> None:
    async def act(service: AccountService, data: Stores) -> None:
        if args.action == "list":
            hosts = [args.host] if args.host else sorted(config.server.hosts)
            for host in hosts:
                for name in await service.list(host):
                    print(f"{name}@{host}")
            return
        if args.action == "import":
            await _import_accounts(service)
            return
        jid = service.parse_account(args.jid)
        if args.action == "add":
            await service.add(jid, _read_password(args.password_stdin))
            print(f"created {jid}")
        elif args.action == "passwd":
            await service.set_password(jid, _read_password(args.password_stdin))
            print(f"password changed for {jid}")
        else:
            await service.delete(jid)
            await erase_messages(data.archive, data.offline, jid)
            print(f"deleted {jid} with its archive and offline messages")

    asyncio.run(_with_accounts(config, act))


async def _import_accounts(service: AccountService) -> None:
    """Lines of `user@host password` (the password is the rest of the line,
    so it may hold spaces); an existing account is left as it is."""
    created = existing = 0
    for number, line in enumerate(sys.stdin, start=1):
        text = line.rstrip("\n")
        if not text.strip():
            continue
        jid_text, _, password = text.partition(" ")
        if not password:
            raise AccountError(f"line {number}: expected 'user@host password'")
        try:
            await service.add(service.parse_account(jid_text), password)
            created += 1
        except AccountExists:
            existing += 1
    print(f"created {created} accounts ({existing} existed already)")


def _channel_command(config: Config, args: argparse.Namespace) -> None:
    async def act() -> None:
        db = open_database(config)
        await db.open()
        try:
            backend = stores(db)
            channels = OfflineChannels(
                backend.mix,
                backend.archive,
                mix_rules.service_domains(config.mix.domains, config.server.hosts),
                frozenset(config.server.hosts),
                delete_archive=config.mix.destroy_archive == "delete",
            )
            if args.action == "list":
                for found in await channels.list(args.service):
                    print(f"{found.jid}{' (ad hoc)' if found.adhoc else ''}")
            elif args.action == "create":
                print(f"created {await channels.create(args.jid, args.owner)}")
            elif args.action == "destroy":
                print(f"destroyed {await channels.destroy(args.jid)}")
            else:
                for line in await channels.info(args.jid):
                    print(line)
        finally:
            await db.close()

    asyncio.run(act())


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        print(f"mixd: configuration error: {exc}", file=sys.stderr)
        return 2
    try:
        if args.command == "run":
            run(config)
        elif args.command == "config":
            print(f"configuration OK ({args.config or 'defaults'})")
        elif args.command == "channel":
            _channel_command(config, args)
        elif args.command in ("export", "import"):
            _portable_command(config, args)
        else:
            _user_command(config, args)
    except AccountExists as exc:
        print(f"mixd: account already exists: {exc}", file=sys.stderr)
        return 1
    except AccountNotFound as exc:
        print(f"mixd: no such account: {exc}", file=sys.stderr)
        return 1
    except ChannelExists as exc:
        print(f"mixd: channel already exists: {exc}", file=sys.stderr)
        return 1
    except StanzaError as exc:  # a rule refused the request (e.g. a bad channel name)
        print(f"mixd: {exc.text or exc}", file=sys.stderr)
        return 1
    except DumpError as exc:
        print(f"mixd: bad dump, nothing was imported: {exc}", file=sys.stderr)
        return 1
    except (TargetNotEmpty, ImportInterrupted) as exc:
        print(f"mixd: {exc}", file=sys.stderr)
        return 1
    except (AccountError, ChannelAdminError, StorageError) as exc:
        print(f"mixd: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
