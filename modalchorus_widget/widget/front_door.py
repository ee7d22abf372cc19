"""What ``Chorus`` accepts as its data, and the defaults that adapt to what the data has.

``Chorus`` takes an ``EmbeddingSet``, a ``ChorusData`` bundle (``load_default``, ``load_coco500``: its encoder and
class prompts come with it) or, through ``Chorus.from_dataframe``, a pandas DataFrame. The colour defaults to the
first of ``label``, ``prediction`` and ``modality`` the data has.
"""

from __future__ import annotations

from ..data.datasets import ChorusData, from_dataframe
from ..data.embeddings import EmbeddingSet
from ..errors import InputTypeError

__all__ = ["FrontDoor", "chorus_inputs", "default_color", "embeddings_from_frame"]

COLOR_PREFERENCE = ("label", "prediction", "modality")


def chorus_inputs(data, encoder=None, class_prompts=None):
    """(embeddings, encoder, class_prompts) for a Chorus made from ``data``.

    Parameters
    ----------
    data : EmbeddingSet or ChorusData
        What to show. A ChorusData gives its embeddings (with their items), its encoder and its class prompts
        (the prompt rows) where the caller gives none.
    encoder : Encoder, optional
        Overrides the bundle's encoder.
    class_prompts : optional
        Overrides the bundle's prompts.

    Returns
    -------
    tuple
        ``(EmbeddingSet, encoder or None, class_prompts or None)``.

    Raises
    ------
    InputTypeError
        ``data`` is neither; the message says how to wrap arrays or a DataFrame.

    Examples
    --------
    >>> from modalchorus_widget import load_default
    >>> es, enc, prompts = chorus_inputs(load_default("shapes"))  # doctest: +SKIP
    """
    if isinstance(data, ChorusData):
        if encoder is None:
            encoder = data.encoder
        if class_prompts is None and len(data.prompt_index):
            class_prompts = [int(i) for i in data.prompt_index]
        return data.embeddings, encoder, class_prompts
    if isinstance(data, EmbeddingSet):
        return data, encoder, class_prompts
    hint = (
        "use Chorus.from_dataframe(df, vectors=..., modality=...)"
        if hasattr(data, "columns")
        else "wrap arrays with EmbeddingSet(vectors, modality=...) or EmbeddingSet.from_pairs(images, texts)"
    )
    raise InputTypeError(
        f"Chorus: embeddings must be an EmbeddingSet or a ChorusData (load_default(), load_coco500()), "
        f"got {type(data).__name__}; {hint}."
    )


def fitted_aligner(aligner, embeddings, encoder=None):
    """The aligner a Chorus's rounds go through: a fast-mode one by default; one not fitted yet is fitted on the
    widget's embeddings (with the widget's encoder when it has none); a fitted one is kept as it is."""
    from ..alignment.aligner import Aligner

    if aligner is None:
        aligner = Aligner(encoder=encoder)
    if not isinstance(aligner, Aligner):
        raise InputTypeError(
            f"Chorus: aligner must be an Aligner, got {type(aligner).__name__}; pass Aligner(mode=...)."
        )
    if not hasattr(aligner, "embeddings_"):
        if aligner.encoder is None and encoder is not None:
            aligner.set_params(encoder=encoder)
        aligner.fit(embeddings)
    return aligner


def default_color(options) -> str:
    """The first of ``label``, ``prediction`` and ``modality`` among the colour ``options``."""
    return next(c for c in (*COLOR_PREFERENCE, *options) if c in options)


def embeddings_from_frame(df, vectors=None, modality="modality", text=None, image=None, label="label", space="clip"):
    """An EmbeddingSet from a DataFrame, as ``Chorus.from_dataframe`` reads it.

    Parameters
    ----------
    df : pandas.DataFrame
        One row per item.
    vectors : str, optional
        The column of vectors (arrays or lists); by default the one column that holds vectors.
    modality : str, default "modality"
        A column of modality names, or one modality name for every row.
    text, image : str, optional
        Columns holding the raw texts / images (paths) of the text / image rows (tooltips, deep mode).
    label : str, default "label"
        The column of labels, when the frame has it.
    space : str, default "clip"
        The name of the embedding space.

    Returns
    -------
    EmbeddingSet
        Every other column becomes metadata (a colour option).

    Raises
    ------
    DatasetError
        No column, or several, that hold vectors; an unknown column.
    EmbeddingError
        Bad vectors or modality names.
    """
    by_column = modality in getattr(df, "columns", ())
    return from_dataframe(
        df,
        vector_column=vectors,
        modality_column=modality if by_column else "modality",
        modality=None if by_column else modality,
        label_column=label,
        text_column=text,
        image_column=image,
        space=space,
    )


class FrontDoor:
    """``Chorus``'s other front door: a DataFrame."""

    @classmethod
    def from_dataframe(
        cls, df, vectors=None, modality="modality", text=None, image=None, label="label", space="clip", **kwargs
    ):
        """A Chorus of a DataFrame's rows (as Embedding Atlas takes one).

        Parameters
        ----------
        df : pandas.DataFrame
            One row per item.
        vectors : str, optional
            The column of vectors (arrays or lists); by default the one column that holds vectors.
        modality : str, default "modality"
            A column of modality names, or one modality name for every row.
        text, image : str, optional
            Columns of the raw texts / images (paths) of the text / image rows: tooltips, search, deep mode.
        label : str, default "label"
            The column of labels, when the frame has it.
        space : str, default "clip"
            The name of the embedding space.
        **kwargs
            Everything else ``Chorus`` takes (``encoder``, ``aligner``, ``projector``, ...).

        Returns
        -------
        Chorus

        Raises
        ------
        DatasetError
            No column of vectors, several, or an unknown column.
        EmbeddingError
            Bad vectors or modality names.

        Examples
        --------
        >>> w = Chorus.from_dataframe(df, vectors="embedding", modality="kind", text="caption")  # doctest: +SKIP
        """
        es = embeddings_from_frame(df, vectors, modality, text=text, image=image, label=label, space=space)
        return cls(es, **kwargs)
