"""Spanish given names, surnames, Chilean cities and e-mail domains of the sample retailer."""

from __future__ import annotations

import unicodedata

FEMALE_NAMES = (
    "María", "Ana", "Sofía", "Valentina", "Camila", "Catalina", "Javiera", "Fernanda", "Isidora",
    "Constanza", "Francisca", "Daniela", "Carolina", "Paula", "Andrea", "Claudia", "Patricia",
    "Verónica", "Marcela", "Lorena", "Alejandra", "Gabriela", "Antonia", "Florencia", "Josefa",
    "Martina", "Trinidad", "Agustina", "Emilia", "Renata", "Ignacia", "Bárbara", "Macarena",
    "Pía", "Rocío", "Mónica", "Cecilia", "Gloria", "Teresa", "Inés", "Beatriz", "Natalia",
    "María José", "María Paz", "Ximena", "Pilar", "Soledad", "Elena", "Amparo", "Begoña",
)
MALE_NAMES = (
    "José", "Juan", "Diego", "Matías", "Sebastián", "Benjamín", "Tomás", "Vicente", "Martín",
    "Nicolás", "Felipe", "Cristóbal", "Joaquín", "Agustín", "Maximiliano", "Ignacio", "Francisco",
    "Pablo", "Andrés", "Rodrigo", "Gonzalo", "Cristián", "Claudio", "Mauricio", "Patricio",
    "Alejandro", "Fernando", "Ricardo", "Jorge", "Luis", "Carlos", "Manuel", "Raúl", "Héctor",
    "Álvaro", "Ramón", "Iván", "Rubén", "Óscar", "Simón", "Bastián", "Lucas", "Emiliano",
    "Juan Pablo", "José Tomás", "Esteban", "Hernán", "Germán", "Julián", "Adrián",
)
SURNAMES = (
    "González", "Muñoz", "Rojas", "Díaz", "Pérez", "Soto", "Contreras", "Silva", "Martínez",
    "Sepúlveda", "Morales", "Rodríguez", "López", "Fuentes", "Hernández", "Torres", "Araya",
    "Flores", "Espinoza", "Valenzuela", "Castillo", "Tapia", "Reyes", "Gutiérrez", "Castro",
    "Pizarro", "Álvarez", "Vásquez", "Sánchez", "Fernández", "Ramírez", "Carrasco", "Gómez",
    "Cortés", "Herrera", "Núñez", "Jara", "Vergara", "Rivera", "Figueroa", "Riquelme", "García",
    "Miranda", "Bravo", "Vera", "Molina", "Vega", "Campos", "Sandoval", "Orellana", "Cárdenas",
    "Olivares", "Alarcón", "Gallardo", "Ortiz", "Garrido", "Salazar", "Guzmán", "Henríquez",
    "Saavedra", "Navarro", "Aguilera", "Parra", "Romero", "Aravena", "Vargas", "Vidal",
    "Ibáñez", "Peña", "Cáceres", "Zúñiga", "Yáñez", "Quiroz", "Poblete", "Acuña", "Farías",
    "Maldonado", "Salinas", "Leiva", "Toledo", "Arancibia", "Bustos", "Cisternas", "Orrego",
    "Lagos", "Donoso", "Mella", "Ulloa", "Beltrán", "Jiménez", "Mendoza", "Ossandón",
    "Echeverría", "Larraín", "Undurraga", "Montt", "Ruiz-Tagle", "Cañas", "Briceño", "Opazo",
)

# (city, share of the population); the stores sit in the first ones.
CITIES = (
    ("Santiago", 9.0), ("Puente Alto", 6.0), ("Maipú", 5.5), ("La Florida", 4.5),
    ("Las Condes", 3.5), ("Ñuñoa", 2.8), ("Providencia", 2.0), ("San Bernardo", 2.2),
    ("Peñalolén", 2.0), ("Viña del Mar", 3.3), ("Valparaíso", 2.9), ("Concepción", 2.4),
    ("Talcahuano", 1.4), ("La Serena", 2.3), ("Coquimbo", 2.2), ("Temuco", 2.6),
    ("Puerto Montt", 2.2), ("Antofagasta", 3.6), ("Rancagua", 2.4), ("Talca", 2.2),
    ("Arica", 2.2), ("Iquique", 2.0), ("Chillán", 1.8), ("Los Ángeles", 1.9), ("Valdivia", 1.6),
    ("Osorno", 1.5), ("Calama", 1.6), ("Copiapó", 1.5), ("Curicó", 1.4), ("Punta Arenas", 1.3),
    ("Quilpué", 1.5), ("Villa Alemana", 1.2),
)

# (domain, share of personal addresses)
EMAIL_DOMAINS = (
    ("gmail.com", 58.0), ("hotmail.com", 14.0), ("outlook.com", 7.0), ("yahoo.com", 4.0),
    ("icloud.com", 4.0), ("live.cl", 3.0), ("hotmail.cl", 3.0), ("yahoo.es", 2.0),
    ("uc.cl", 1.5), ("vtr.net", 1.5), ("gmail.cl", 1.0), ("entelchile.net", 1.0),
)

# Local-part shapes of personal addresses; a clash gets a numeric suffix. {i} is the initial.
EMAIL_PATTERNS = ("{f}.{l}", "{f}{l}", "{i}{l}", "{f}_{l}", "{l}.{f}", "{f}.{l}.{m}")

# What cashiers type when the customer gives no address; identity must never link on them.
JUNK_EMAILS = (
    "noemail@austral.cl", "sinmail@austral.cl", "test@test.com", "0", "n/a",
    "sinmail@gmail.com", "NOEMAIL@AUSTRAL.CL", "no@tiene.cl",
)


def ascii_slug(text: str) -> str:
    """`María José` -> `mariajose`: e-mail local parts and URL slugs are plain ASCII."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if c.isascii() and c.isalnum()).lower()
