"""Pages for people, by sub-domain: the case page and what is done on it (`cases`), filing
(`filing`), the respondent's invitation (`invitations`), lists and the intake queue
(`lists`), the profile (`profile`) and the public pages (`public`).

Thin: parse, authorise through odr.selectors, call one service from odr.services, render.
A DomainError becomes a message next to the field it is about; a NotFound rises to
odr.middleware.NotFoundMiddleware, which answers 404."""
