"""Brazilian data formats the sanitizer must keep valid: CPF, CNPJ, phones, plates, CEP.

Every generator takes a ``random.Random`` so the caller decides how values are drawn (the
sanitizer seeds it from a keyed hash of the original value, see masking.py).
"""

from __future__ import annotations

import random
import re
import unicodedata

_CPF_RE = re.compile(r"^\d{3}\.?\d{3}\.?\d{3}-?\d{2}$")
_CNPJ_RE = re.compile(r"^[0-9A-Z]{2}\.?[0-9A-Z]{3}\.?[0-9A-Z]{3}/?[0-9A-Z]{4}-?\d{2}$")
PLATE_OLD = re.compile(r"^[A-Z]{3}-?\d{4}$")
PLATE_MERCOSUL = re.compile(r"^[A-Z]{3}\d[A-Z]\d{2}$")
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$")

_CNPJ_WEIGHTS = (6, 5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2)
_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def only_digits(value: str) -> str:
    return "".join(c for c in value if c.isdigit())


def only_alnum(value: str) -> str:
    return "".join(c for c in value.upper() if c.isalnum())


def substitute(template: str, replacement: str, alnum: bool = False) -> str:
    """``template`` with its digits (or letters and digits) replaced in order by ``replacement``.

    Keeps every dot, dash, slash, space and bracket where it was: "(11) 98765-4321" stays in
    that shape, "123.456.789-09" too.
    """
    chars = iter(replacement)
    out = []
    for c in template:
        wanted = c.isalnum() if alnum else c.isdigit()
        out.append(next(chars) if wanted else c)
    return "".join(out)


def cpf_check_digits(base9: str) -> str:
    digits = [int(c) for c in base9]
    for _ in range(2):
        weight = len(digits) + 1
        total = sum(d * (weight - i) for i, d in enumerate(digits))
        rest = total % 11
        digits.append(0 if rest < 2 else 11 - rest)
    return f"{digits[-2]}{digits[-1]}"


def is_valid_cpf(value: str) -> bool:
    if not _CPF_RE.match(value.strip()):
        return False
    digits = only_digits(value)
    return len(set(digits)) > 1 and cpf_check_digits(digits[:9]) == digits[9:]


def new_cpf(rng: random.Random) -> str:
    while True:
        base = "".join(str(rng.randrange(10)) for _ in range(9))
        if len(set(base)) > 1:
            return base + cpf_check_digits(base)


def cnpj_check_digits(base12: str) -> str:
    """Check digits of a CNPJ, numeric or alphanumeric (value of a character: ASCII - 48)."""
    values = [ord(c) - 48 for c in base12.upper()]
    for _ in range(2):
        weights = _CNPJ_WEIGHTS[-len(values) :]
        rest = sum(v * w for v, w in zip(values, weights)) % 11
        values.append(0 if rest < 2 else 11 - rest)
    return f"{values[-2]}{values[-1]}"


def is_valid_cnpj(value: str) -> bool:
    text = value.strip().upper()
    if not _CNPJ_RE.match(text):
        return False
    chars = only_alnum(text)
    return len(set(chars)) > 1 and cnpj_check_digits(chars[:12]) == chars[12:]


def new_cnpj(rng: random.Random, branch: str = "0001", alphanumeric: bool = False) -> str:
    pool = "0123456789" + (_LETTERS if alphanumeric else "")
    root = "".join(rng.choice(pool) for _ in range(8))
    base = root + branch
    return base + cnpj_check_digits(base)


def is_plate(value: str) -> bool:
    text = value.strip().upper()
    return bool(PLATE_OLD.match(text) or PLATE_MERCOSUL.match(text))


def new_plate(rng: random.Random, template: str) -> str:
    """A plate in the same system as ``template``: ABC-1234 / ABC1234, or Mercosul ABC1D23."""
    letters = "".join(rng.choice(_LETTERS) for _ in range(3))
    if PLATE_MERCOSUL.match(template.strip().upper()):
        return f"{letters}{rng.randrange(10)}{rng.choice(_LETTERS)}{rng.randrange(100):02d}"
    separator = "-" if "-" in template else ""
    return f"{letters}{separator}{rng.randrange(10000):04d}"


def split_phone(digits: str) -> tuple[str, str, str] | None:
    """(country, area code, subscriber) of a Brazilian number, or None when it is not one."""
    country = ""
    if len(digits) in (12, 13) and digits.startswith("55"):
        country, digits = "55", digits[2:]
    elif len(digits) in (11, 12) and digits.startswith("0"):
        country, digits = "0", digits[1:]  # long-distance prefix without a carrier code
    if len(digits) not in (10, 11) or digits[0] == "0":
        return None
    subscriber = digits[2:]
    if len(subscriber) == 9 and subscriber[0] != "9":
        return None
    return country, digits[:2], subscriber


def new_subscriber(rng: random.Random, current: str) -> str:
    """A subscriber number of the same kind: mobile (9 + 8 digits) or landline (2-5 + 7)."""
    if len(current) == 9:
        return "9" + str(rng.randint(6, 9)) + "".join(str(rng.randrange(10)) for _ in range(7))
    return str(rng.randint(2, 5)) + "".join(str(rng.randrange(10)) for _ in range(7))


def ascii_fold(text: str) -> str:
    """'João Conceição' -> 'Joao Conceicao' (for e-mail local parts)."""
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")


FIRST_NAMES = (
    "Ana Antônio Beatriz Bruno Camila Carlos Cláudia Daniel Débora Diego Eduarda Eduardo "
    "Elaine Fábio Fernanda Felipe Gabriela Gustavo Helena Henrique Isabela Igor Juliana João "
    "Larissa Leonardo Letícia Lucas Luana Luiz Mariana Marcelo Natália Nelson Patrícia Paulo "
    "Priscila Rafael Renata Ricardo Sabrina Sérgio Tatiane Thiago Valéria Vinícius Viviane "
    "Wagner Yasmin Wellington Rosana Rogério Simone Sandro Adriana Alexandre Cristiane Márcio"
).split()
SURNAMES = (
    "Almeida Alves Andrade Araújo Barbosa Barros Batista Borges Cardoso Carvalho Castro "
    "Correia Costa Cunha Dias Duarte Farias Fernandes Ferreira Freitas Gomes Lima Lopes "
    "Machado Martins Melo Mendes Miranda Monteiro Moraes Moreira Moura Nascimento Nunes "
    "Oliveira Pereira Pinto Ramos Reis Ribeiro Rocha Rodrigues Santana Santos Silva Soares "
    "Souza Teixeira Vieira Xavier Queiroz Siqueira Tavares Peixoto Cavalcanti Brandão Prado"
).split()
BUSINESS_WORDS = (
    "Transportes Logística Comércio Distribuidora Autopeças Serviços Locadora Mecânica "
    "Construtora Alimentos Materiais Veículos Agropecuária Seguros"
).split()
STREET_TYPES = ("Rua", "Rua", "Rua", "Avenida", "Avenida", "Travessa", "Alameda", "Estrada")
STREET_NAMES = (
    "das Acácias|dos Ipês|Sete de Setembro|Quinze de Novembro|XV de Novembro|Tiradentes|"
    "Dom Pedro II|Rui Barbosa|Castro Alves|Santos Dumont|Marechal Deodoro|Duque de Caxias|"
    "Getúlio Vargas|Presidente Vargas|Floriano Peixoto|São João|Santa Rita|das Palmeiras|"
    "dos Andradas|Machado de Assis|Monteiro Lobato|Cecília Meireles|Carlos Gomes|"
    "Visconde de Mauá|Barão do Rio Branco|Princesa Isabel|José Bonifácio|Anita Garibaldi|"
    "Bento Gonçalves|Padre Anchieta|Olavo Bilac|Paraná|Bahia|Amazonas|Minas Gerais|Goiás"
).split("|")
