"""The ask flow: retrieve -> prompt -> guided generation -> decide -> answer.

Each attempt's answer is validated (docqa.flows.validate); a rejected one is tried again with
an altered prompt (docqa.flows.decide). The interaction is recorded as it goes: its row when
the question arrives, then one step per stage and per attempt, so an interrupted loop can be
inspected; the outcome when it ends.
"""

from __future__ import annotations

import functools
import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from docqa.adapters.protocols import LLM, Embedder
from docqa.clock import startup
from docqa.contract import fills_json
from docqa.errors import DocqaError, UsageError
from docqa.flows import extractive
from docqa.flows.context import DEFAULT_BUDGET, focus, shown
from docqa.flows.decide import decide, feedback
from docqa.flows.events import AnswerStream, AttemptBegun, AttemptJudged, Event, Listener
from docqa.flows.extractive import NOT_FOUND
from docqa.flows.groundedness import NullPool, pool_from_store
from docqa.flows.guards import answer_flags, outlier_score, question_flags, reasons
from docqa.flows.memo import EmbeddingMemo
from docqa.flows.modes import GENERATIVE, Mode, mode_named
from docqa.flows.reply import (
    MAX_ANSWER_CHARS,
    MAX_CITATIONS,
    REPLY_TOKENS,
    answer_schema,
    parse_reply,
    reply_of,
)
from docqa.flows.responsive import tidy
from docqa.flows.retrieve import Ranking, clean_question, retrieve
from docqa.flows.validate import validate
from docqa.journal import (
    AnswerStep,
    Embed,
    Features,
    Generate,
    Guard,
    Opening,
    Outcome,
    Prompt,
    Recorder,
    Retrieve,
    RetrievedHit,
    Rewrite,
    Validate,
)
from docqa.prompts import load_program
from docqa.records import ANONYMOUS, Answer, Attempt, Citation, Profile, SearchResult
from docqa.store import Store


@dataclass(frozen=True)
class AskOptions:
    k: int = 5
    template: str | None = None  # None: the configured one (qa by default)
    log: bool = True
    mode: Mode | str = GENERATIVE  # a Mode, or its name
    beams: int = 1
    max_attempts: int = 3
    session: str | None = None
    history: int = 4  # earlier turns of the session the model sees
    # who asks: retrieval only sees the documents this profile may read, and templates get
    # its features as `user`; None searches every document (tools that own the store)
    user: Profile | None = ANONYMOUS
    guard: bool = False  # withhold an answer to an outlier or toxic question, or a toxic one
    ranking: Ranking = Ranking()  # how retrieval ranks candidates
    # about how many tokens of the sources the reader sees: the sentences that best match
    # the question, with their neighbours (docqa.flows.context); 0: the k chunks whole;
    # None: the default
    context_tokens: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "mode", mode_named(self.mode))

    @property
    def main_template(self) -> str:
        return self.mode.template_of(self.template)


@dataclass
class _Loop:
    """One question's way through the loop: its collaborators, what was found out before
    the attempts, and the totals so far."""

    question: str
    store: Store
    embedder: Embedder
    index: object
    llm: LLM
    options: AskOptions
    history: list[dict] = field(default_factory=list)
    timings: dict[str, float] = field(
        default_factory=lambda: dict.fromkeys(
            ("load", "embed", "retrieve", "prompt", "generate", "validate"), 0.0
        )
    )
    tokens: dict[str, int] = field(
        default_factory=lambda: {"prompt": 0, "cached": 0, "completion": 0}
    )
    validated: float = 0.0  # seconds the last validation took
    first_token_at: float | None = None  # perf_counter() when the first answer token came
    turn: int | None = None  # the question's turn in its session
    context: tuple[str, ...] = ()  # the queries that give a follow-up its context
    flags: dict = field(default_factory=dict)  # the inline guards' verdicts
    outlier: float | None = None  # the question's outlier score
    prompts: dict[int, str] = field(default_factory=dict)  # each attempt's prompt
    # the sentence vectors of chunks already read from the store, for the attempts after
    stored: dict = field(default_factory=dict)
    listener: Listener | None = None  # told each attempt, its answer as written, its verdict
    chunk_embedder: object = None  # a ChunkEmbedder, when chunk vectors have a model of their own

    def __post_init__(self) -> None:
        self.started = time.perf_counter()
        self.age = startup()  # the process's age at its first question (None after)
        self.rec = Recorder(self.store.journal, self.options.log)
        self.memo = EmbeddingMemo(self.embedder)
        # what the asker may not read, worked out once for every retrieval of the question
        user = self.options.user
        self.forbidden = self.store.corpus.forbidden_chunks(user) if user is not None else set()

    # -- prepare -----------------------------------------------------------------------
    def prepare(self) -> SearchResult:
        """Load the models, open the session, retrieve, record the question and its first
        steps, and run the question's guards; returns the first retrieval."""
        options, store = self.options, self.store
        t = time.perf_counter()
        self.embedder.load()
        if self.chunk_embedder is not None:
            self.chunk_embedder.load()
        self.llm.load()
        self.timings["load"] = time.perf_counter() - t
        user = options.user or ANONYMOUS
        if options.session:
            session = open_session(store, options.session, user)
            self.history = history(store, options.session, user, options.history, self.forbidden)
            self.turn = (session.get("turns") or 0) + 1
        self.context = _context_query(self.question, self.history)
        found = self.retrieve(self.context)
        self.rec.begin(
            Opening(
                question=self.question,
                user=user.name,
                session=options.session,
                turn=self.turn,
                mode=options.mode.name,
                template=options.main_template,
                model=self.llm.name,
                embedder=self.embedder.name,
                k=options.k,
                question_embedding=found.vector.astype("float32").tobytes(),
            )
        )
        self.rec.step(Features(user.name, user.features, list(user.groups)))
        self.rec.step(Embed(int(found.vector.shape[0])), found.timings["embed"])
        self.rec.step(_retrieved(found, 1), found.timings["retrieve"])
        self.outlier = outlier_score(found.hits)
        self.flags = question_flags(self.question, self.outlier, store.journal.outlier_scores())
        self.rec.step(Guard(self.flags))
        return found

    def withheld_early(self) -> bool:
        """Whether --guard stops the question before any generation."""
        return self.options.guard and bool(reasons(self.flags))

    # -- attempts ----------------------------------------------------------------------
    def attempts(self, found: SearchResult, pool: Callable[[], NullPool] | None) -> list[Attempt]:
        """The mode's plan, attempt by attempt, until one passes the validators."""
        store, embedder, options = self.store, self.embedder, self.options
        # built (or read from its cache) when the first answer is validated, not before the
        # first token
        null = functools.cache(
            pool
            if pool is not None
            else lambda: pool_from_store(store, embedder, None, options.user)
        )
        attempts: list[Attempt] = []
        strategies = options.mode.plan(options.max_attempts)
        for n, strategy in enumerate(strategies, start=1):
            if strategy == "rewrite":
                found = self.retrieve((self.rewrite(n), *self.context))
                self.rec.step(_retrieved(found, n), found.timings["retrieve"])
            self.tell(AttemptBegun(n, strategy))
            last, self.prompts[n] = self.attempt(
                n, strategy, found, attempts[-1] if attempts else None, null
            )
            self.tell(
                AttemptJudged(
                    n,
                    last.passed,
                    last.answer,
                    tuple((v.name, v.reason) for v in last.verdicts if not v.ok),
                )
            )
            attempts.append(last)
            following = "final" if last.passed or n == len(strategies) else strategies[n]
            self.rec.step(Validate.of(last, following), self.validated)
            if last.passed:
                break
        return attempts

    def tell(self, event: Event) -> None:
        if self.listener is not None:
            self.listener(event)

    def retrieve(self, also: tuple[str, ...]) -> SearchResult:
        found = retrieve(
            self.question,
            store=self.store,
            embedder=self.embedder,
            index=self.index,
            k=self.options.k,
            also=also,
            profile=self.options.user,
            forbidden=self.forbidden,
            ranking=self.options.ranking,
            chunk_embedder=self.chunk_embedder,
        )
        self.timings["embed"] += found.timings["embed"]
        self.timings["retrieve"] += found.timings["retrieve"]
        return found

    def passages(self, hits) -> dict:
        """The stored sentence vectors of these hits' chunks, each read once per question;
        the memo learns them, so the checks do not embed those sentences again."""
        missing = [h.chunk_id for h in hits if h.chunk_id not in self.stored]
        if missing:
            self.stored.update(self.store.corpus.passage_vectors(missing))
            for hit in hits:
                passage = self.stored.get(hit.chunk_id)
                if hit.chunk_id in missing and passage is not None:
                    self.memo.learn(hit.text, passage)
        return {h.chunk_id: self.stored[h.chunk_id] for h in hits if h.chunk_id in self.stored}

    def generated(self, result) -> None:
        for key, value in result.tokens.items():
            known = self.tokens.get(key, 0)
            self.tokens[key] = None if value is None or known is None else known + value
        self.timings["prompt"] += result.timings["template"]
        self.timings["generate"] += result.timings["generate"]

    def rewrite(self, n: int) -> str:
        """The model's search query for the question (templates/rewrite.j2)."""
        user = (self.options.user or ANONYMOUS).template_value()
        result = load_program("rewrite").run(
            self.llm, {"question": self.question, "history": self.history, "user": user}
        )
        self.generated(result)
        query = str(result.slots.get("query", "")).strip()
        self.rec.step(
            Rewrite(n, query, result.tokens, fills_json(result)), result.timings["generate"]
        )
        return query

    def attempt(
        self,
        n: int,
        strategy: str,
        found: SearchResult,
        last: Attempt | None,
        null: Callable[[], NullPool],
    ) -> tuple[Attempt, str]:
        """Prompt, generate and validate once; returns the attempt and its prompt."""
        started = time.perf_counter()
        options = self.options
        template = options.main_template
        program = load_program(template)
        extracts = options.mode.candidates_for(template)  # --template extractive
        budget = DEFAULT_BUDGET if options.context_tokens is None else options.context_tokens
        passages = self.passages(found.hits)
        excerpts = focus(
            found.hits,
            # a follow-up's words are read with the turns before it ("when was it built?")
            self.context[0] if self.context else found.question,
            found.vector,
            passages,
            budget,
        )
        found = replace(found, hits=shown(excerpts))
        variables = _variables(found, self.history, feedback(last), self.options.user)
        for source, excerpt in zip(variables["sources"], excerpts, strict=True):
            source["text"] = excerpt.text
        if extracts:  # the sentences to choose from, among those the model is shown
            variables["candidates"] = extractive.candidates(
                found.vector, found.hits, self.embedder, passages, [e.text for e in excerpts]
            )
        begun = time.perf_counter()
        if options.beams > 1:
            from docqa.guide.beams import run_beams

            result = run_beams(program, self.llm, variables, options.beams)[0].result
        else:
            listen = None if self.listener is None else AnswerStream(n, self.listener)
            result = program.run(self.llm, variables, listen=listen)
        self.generated(result)
        first = result.fills[0].first_token_seconds if result.fills else None
        if self.first_token_at is None and first is not None:
            self.first_token_at = begun + result.timings["template"] + first
        digest = hashlib.sha256(result.text.encode()).hexdigest()
        prompt = Prompt(n, program.label, digest, variables["schema"], result.text)
        self.rec.step(prompt, result.timings["template"])
        self.rec.step(Generate(n, result.tokens, fills_json(result)), result.timings["generate"])
        answer, answerable, numbers = parse_reply(reply_of(result))
        answer = tidy(answer, MAX_ANSWER_CHARS)  # a sentence said twice, a cut-off tail
        t = time.perf_counter()
        judge = functools.partial(
            validate,
            question=self.question,
            question_vector=found.vector,
            hits=found.hits,
            embedder=self.memo,
            pool=null(),
        )
        verdicts, grounding, numbers = judge(
            answer=answer, answerable=answerable, citations=numbers
        )
        if options.mode.copies and answerable and answer != NOT_FOUND:
            copied = extractive.copy_of(grounding)
            if copied and copied != answer:  # judged again: it must answer, as the model's did
                answer = copied
                verdicts, grounding, numbers = judge(
                    answer=answer, answerable=True, citations=numbers
                )
        self.validated = time.perf_counter() - t
        self.timings["validate"] += self.validated
        attempt = Attempt(
            n=n,
            strategy=strategy,
            template=program.label,
            queries=found.queries,
            answer=answer,
            answerable=answerable,
            citations=tuple(numbers),
            verdicts=verdicts,
            grounding=grounding,
            passed=all(v.ok for v in verdicts),
            seconds=time.perf_counter() - started,
            tokens=result.tokens,
            hits=found.hits,
        )
        return attempt, result.text

    # -- outcome -----------------------------------------------------------------------
    def failed(self, exc: DocqaError) -> None:
        """Record that the question failed (the error goes on to the caller)."""
        self.rec.finish(Outcome("error", error=str(exc), seconds=self._elapsed()))

    def finish(self, found: SearchResult, attempts: list[Attempt]) -> Answer:
        """The outcome of the attempts (none when the guard stopped the question): the
        final status and answer, recorded. Every question that is answered, not found or
        withheld ends here; one that fails ends in `failed`."""
        options = self.options
        status, chosen = decide(attempts) if attempts else ("withheld", None)
        final = chosen if chosen is not None else (attempts[-1] if attempts else None)
        hits = final.hits if final is not None else found.hits
        if chosen is None:
            text, citations, grounding = NOT_FOUND, (), None
        else:
            text, grounding = chosen.answer, chosen.grounding
            citations = tuple(
                Citation(n, hits[n - 1]) for n in chosen.citations if 1 <= n <= len(hits)
            )
        flags = self.flags
        if attempts:
            flags.update(answer_flags(text))
        why = reasons(flags)
        if options.guard and why:
            status, text, citations, grounding = "withheld", _withheld_text(why), (), None
        timings = self.timings
        timings["total"] = self._elapsed()
        if self.first_token_at is not None:  # from the question to the first answer token
            timings["first_token"] = self.first_token_at - self.started
        if self.age is not None and attempts:  # from the process's start to the question
            timings["startup"] = self.age  # (its first question only)
        answerable = status not in ("unanswerable", "withheld")
        self.rec.step(
            AnswerStep(status, None if chosen is None else chosen.n, [c.n for c in citations])
        )
        self.rec.finish(
            Outcome(
                status,
                answer=text,
                answerable=int(answerable),
                citations=[{"n": c.n, "chunk_id": c.hit.chunk_id} for c in citations],
                timings=timings,
                seconds=timings["total"],
                prompt=None if final is None else self.prompts[final.n],
                raw_output=json.dumps(
                    [{"attempt": a.n, "answer": a.answer} for a in attempts], ensure_ascii=False
                )
                if attempts
                else None,
                prompt_tokens=self.tokens["prompt"],
                cached_tokens=self.tokens["cached"],
                completion_tokens=self.tokens["completion"],
                attempts=len(attempts),
                groundedness=None if grounding is None else grounding.score,
                flags=flags,
                outlier_score=self.outlier,
            )
        )
        return Answer(
            id=self.rec.id,
            question=self.question,
            answer=text,
            answerable=answerable,
            citations=citations,
            hits=hits,
            status=status,
            model=self.llm.name,
            template=options.main_template if chosen is None else chosen.template,
            timings=timings,
            tokens=self.tokens,
            attempts=tuple(attempts),
            grounding=grounding,
            session=options.session,
            turn=self.turn,
            flags=flags,
            flag_reasons=tuple(why),
        )

    def _elapsed(self) -> float:
        return time.perf_counter() - self.started


def _withheld_text(why: list[str]) -> str:
    return "Withheld: " + "; ".join(why) + "."


def ask(
    question: str,
    *,
    store: Store,
    embedder: Embedder,
    index,
    llm: LLM,
    options: AskOptions = AskOptions(),
    pool: Callable[[], NullPool] | None = None,
    listener: Listener | None = None,
    chunk_embedder=None,
) -> Answer:
    """Answer one question from the store's documents: prepare (load, session, retrieve,
    guard), the mode's attempts, and one outcome, recorded as it goes. `pool` gives the
    unrelated sentences groundedness is calibrated against (docqa.components caches them); by
    default they are drawn from the store. `listener` is told each attempt as it begins, its
    answer as the model writes it, and its verdict (docqa.flows.events). `chunk_embedder`
    embeds the question against chunk vectors made by a model of their own."""
    loop = _Loop(clean_question(question), store, embedder, index, llm, options)
    loop.listener = listener
    loop.chunk_embedder = chunk_embedder
    try:
        found = loop.prepare()
        attempts = [] if loop.withheld_early() else loop.attempts(found, pool)
    except DocqaError as exc:
        loop.failed(exc)
        raise
    return loop.finish(found, attempts)


def open_session(store: Store, name: str, user: Profile) -> dict:
    """The session's row, claimed for `user` if new; another user's session is refused."""
    session = store.people.claim_session(name, user.name)
    if session.get("user") != user.name:
        raise UsageError(f"session {name!r} belongs to another user: start a new one")
    return session


def history(
    store: Store, name: str, user: Profile, limit: int, forbidden: set[int] | None = None
) -> list[dict]:
    """The user's last turns in a session, without those that cite chunks the user may no
    longer read (their answers came from them)."""
    if forbidden is None:
        forbidden = store.corpus.forbidden_chunks(user)
    turns = store.journal.session_turns(name, limit, user.name)
    return [t for t in turns if not forbidden.intersection(t["chunks"])]


def _context_query(question: str, history: list[dict]) -> tuple[str, ...]:
    """A follow-up ("and when was it built?") is also searched with the two questions before
    it in front of it, so retrieval knows what "it" is, even after a follow-up of a
    follow-up."""
    if not history:
        return ()
    return (" ".join([*(t["question"] for t in history[-2:]), question]),)


def _variables(found: SearchResult, history: list[dict], note: str, user: Profile | None) -> dict:
    sources = [
        {
            "n": i,
            "path": h.path,
            "title": Path(h.path).name,
            "heading": h.heading,
            "where": h.where,
            "text": h.text,
        }
        for i, h in enumerate(found.hits, start=1)
    ]
    return {
        "question": found.question,
        "sources": sources,
        "max_citations": MAX_CITATIONS,
        "schema": answer_schema(len(found.hits)),
        "reply_tokens": REPLY_TOKENS,
        "history": [{"question": t["question"], "answer": t["answer"]} for t in history],
        "feedback": note,
        "user": (user or ANONYMOUS).template_value(),
    }


def _retrieved(found: SearchResult, attempt: int) -> Retrieve:
    return Retrieve(attempt, list(found.queries), tuple(RetrievedHit.of(h) for h in found.hits))
