//! The client's system guide (runbook step 7.1) as a language-neutral document:
//! sections of paragraphs, lists and fact tables, built from the organization, the
//! configuration and the chosen language. The HTML and the PDF are both drawn from it,
//! so they always say the same thing.

use super::{Formats, Lang};
use loyalty_core::domain::Organization;
use loyalty_core::domain::points::Amount;
use rust_decimal::Decimal;
use time::OffsetDateTime;

/// A piece of a section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Block {
    /// A paragraph.
    Para(String),
    /// A list of points.
    Bullets(Vec<String>),
    /// Numbered steps.
    Steps(Vec<String>),
    /// Label and value pairs.
    Facts(Vec<(String, String)>),
    /// A question and its answer.
    Qa(String, String),
    /// A smaller heading inside a section.
    Sub(String),
}

/// A titled section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    /// Title.
    pub title: String,
    /// Content.
    pub blocks: Vec<Block>,
}

/// The whole guide.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Guide {
    /// Language tag (`en-US`, `pt-BR`).
    pub lang: String,
    /// Title.
    pub title: String,
    /// The line under the title.
    pub subtitle: String,
    /// Sections, in order.
    pub sections: Vec<Section>,
    /// Footer line.
    pub footer: String,
}

/// How clients reach support (`[support]` in the configuration).
#[derive(Debug, Clone, Default)]
pub struct Support {
    /// Email address.
    pub email: Option<String>,
    /// Phone number.
    pub phone: Option<String>,
    /// Opening hours, as free text.
    pub hours: Option<String>,
}

/// What the guide is built from.
pub struct Inputs<'a> {
    /// The organization.
    pub org: &'a Organization,
    /// Public base URL, no trailing slash.
    pub public_url: &'a str,
    /// Language.
    pub lang: Lang,
    /// How numbers, money and dates are written in that language.
    pub formats: &'a dyn Formats,
    /// Support contact.
    pub support: &'a Support,
    /// The first admin's username and email, when known.
    pub admin: Option<(String, String)>,
    /// Hours a one-time sign-in link stays valid.
    pub link_ttl_hours: u32,
    /// When the guide is made.
    pub now: OffsetDateTime,
}

fn tr(lang: Lang, en: &str, pt: &str) -> String {
    match lang {
        Lang::En => en.to_owned(),
        Lang::PtBr => pt.to_owned(),
    }
}

/// The web addresses of the organization, as (label, URL).
pub fn urls(public_url: &str, slug: &str, lang: Lang) -> Vec<(String, String)> {
    let o = format!("{public_url}/o/{slug}");
    vec![
        (
            tr(lang, "Sign-in page", "Página de entrada"),
            format!("{public_url}/login"),
        ),
        (
            tr(lang, "Admin panel", "Painel de administração"),
            format!("{o}/admin"),
        ),
        (
            tr(lang, "Till (cashiers)", "Caixa (operadores)"),
            format!("{o}/till"),
        ),
        (
            tr(lang, "Join page (customers)", "Página de adesão (clientes)"),
            format!("{o}/join"),
        ),
        (
            tr(lang, "Customer portal", "Portal do cliente"),
            format!("{o}/me"),
        ),
    ]
}

/// A purchase amount that shows the earning rule at work, and the points it earns.
fn example(org: &Organization) -> (Decimal, i64) {
    let base = Decimal::new(4299, 2);
    let amount = if org.earning.min_purchase > base {
        org.earning.min_purchase + Decimal::new(1050, 2)
    } else {
        base
    };
    let points = Amount::parse(&amount.to_string(), 2)
        .map(|a| org.earning.points_for(a))
        .unwrap_or(0);
    (amount, points)
}

/// Builds the guide.
pub fn build(i: &Inputs<'_>) -> Guide {
    let l = i.lang;
    let org = i.org;
    let t = |en: &str, pt: &str| tr(l, en, pt);
    let money = |d: Decimal| i.formats.money(d, org.currency.as_str());
    let urls = urls(i.public_url, org.slug.as_str(), l);
    let login = format!("{}/login", i.public_url);
    let admin_url = format!("{}/o/{}/admin", i.public_url, org.slug);
    let till_url = format!("{}/o/{}/till", i.public_url, org.slug);
    let join_url = format!("{}/o/{}/join", i.public_url, org.slug);
    let me_url = format!("{}/o/{}/me", i.public_url, org.slug);

    let (ex_amount, ex_points) = example(org);
    let ppu = org.earning.points_per_unit.normalize().to_string();
    let ppu = match l {
        Lang::En => ppu,
        Lang::PtBr => ppu.replace('.', ","),
    };
    let mut rule = match l {
        Lang::En => format!("{ppu} point(s) for every {} spent", money(Decimal::ONE)),
        Lang::PtBr => format!("{ppu} ponto(s) a cada {} gastos", money(Decimal::ONE)),
    };
    if org.earning.min_purchase > Decimal::ZERO {
        rule.push_str(&match l {
            Lang::En => format!(
                "; purchases under {} earn nothing",
                money(org.earning.min_purchase)
            ),
            Lang::PtBr => format!(
                "; compras abaixo de {} não pontuam",
                money(org.earning.min_purchase)
            ),
        });
    }
    let worked = match l {
        Lang::En => format!(
            "A purchase of {} earns {} points (fractions are rounded down).",
            money(ex_amount),
            i.formats.int(ex_points)
        ),
        Lang::PtBr => format!(
            "Uma compra de {} gera {} pontos (frações são arredondadas para baixo).",
            money(ex_amount),
            i.formats.int(ex_points)
        ),
    };
    let expiry = match (org.expiry_days, l) {
        (Some(d), Lang::En) => {
            format!("Points expire {d} days after they are earned, oldest first.")
        }
        (Some(d), Lang::PtBr) => {
            format!("Os pontos expiram {d} dias depois de ganhos, os mais antigos primeiro.")
        }
        (None, _) => t("Points never expire.", "Os pontos não expiram."),
    };
    let join_state = if org.join_enabled {
        t(
            "open: customers may sign up online",
            "aberta: clientes podem se cadastrar online",
        )
    } else {
        t(
            "closed: customers are enrolled at the till",
            "fechada: clientes são cadastrados no caixa",
        )
    };

    let mut sections = Vec::new();

    // The organization's own facts.
    let mut facts = vec![
        (t("Business name", "Nome da empresa"), org.name.clone()),
        (
            t("Short name (slug)", "Identificador (slug)"),
            org.slug.to_string(),
        ),
        (t("Plan", "Plano"), org.plan.clone()),
        (t("Currency", "Moeda"), org.currency.to_string()),
        (t("Time zone", "Fuso horário"), org.timezone.to_string()),
        (t("Language", "Idioma"), l.label().to_owned()),
        (
            t(
                "How customers earn points",
                "Como os clientes ganham pontos",
            ),
            rule,
        ),
        (t("Example", "Exemplo"), worked),
        (t("Points expiry", "Validade dos pontos"), expiry.clone()),
        (t("Join page", "Página de adesão"), join_state),
    ];
    if let Some(d) = &org.custom_domain {
        facts.push((t("Custom domain", "Domínio próprio"), d.clone()));
    }
    sections.push(Section {
        title: t("Your system at a glance", "Seu sistema em resumo"),
        blocks: vec![Block::Facts(facts)],
    });

    // Where to sign in.
    let mut sign_in = vec![Block::Facts(urls)];
    if let Some((username, email)) = &i.admin {
        sign_in.push(Block::Para(match l {
            Lang::En => format!(
                "Your administrator account is {username} ({email}). Its first sign-in link was delivered to you separately: it works once, for {} hours, and lets you choose your own password. Nobody at support will ever ask for your password.",
                i.link_ttl_hours
            ),
            Lang::PtBr => format!(
                "Sua conta de administrador é {username} ({email}). O primeiro link de acesso foi entregue separadamente: funciona uma única vez, por {} horas, e permite escolher sua própria senha. O suporte nunca vai pedir sua senha.",
                i.link_ttl_hours
            ),
        }));
    }
    sign_in.push(Block::Para(match l {
        Lang::En => format!("Everyone signs in at {login}. After signing in, each person sees what their role allows: administrators the admin panel, cashiers the till, customers their points."),
        Lang::PtBr => format!("Todos entram por {login}. Depois de entrar, cada pessoa vê o que sua função permite: administradores o painel, operadores de caixa o caixa, clientes os seus pontos."),
    }));
    sections.push(Section {
        title: t("Where to sign in", "Onde entrar"),
        blocks: sign_in,
    });

    // The admin panel.
    sections.push(Section {
        title: t("Admin panel guide", "Guia do painel de administração"),
        blocks: vec![
            Block::Para(match l {
                Lang::En => format!("Open {admin_url}. The tabs at the top are Dashboard, Customers, Rewards, Users, Settings and Audit log."),
                Lang::PtBr => format!("Abra {admin_url}. As abas no topo são Painel, Clientes, Recompensas, Usuários, Configurações e Registro de auditoria."),
            }),
            Block::Sub(t("Dashboard", "Painel")),
            Block::Para(t(
                "Today's and the last 30 days' purchases, points issued and redeemed, active customers, customers enrolled and the points your customers hold right now.",
                "Compras, pontos concedidos e resgatados e clientes ativos de hoje e dos últimos 30 dias, clientes cadastrados e os pontos que seus clientes têm agora.",
            )),
            Block::Sub(t("Creating a cashier", "Criar um operador de caixa")),
            Block::Steps(vec![
                t("Go to Users.", "Vá em Usuários."),
                t(
                    "Under \"Create a cashier or administrator\", choose the role Cashier and fill in username, full name and email.",
                    "Em \"Criar um caixa ou administrador\", escolha a função Caixa e preencha usuário, nome completo e e-mail.",
                ),
                t(
                    "Press \"Create and get the sign-in link\".",
                    "Clique em \"Criar e gerar o link de acesso\".",
                ),
                match l {
                    Lang::En => format!("Give the one-time link to the cashier (in person or by a private message). It works once, for {} hours; with it they choose their own password. Nobody ever sees or sends a password.", i.link_ttl_hours),
                    Lang::PtBr => format!("Entregue o link de uso único ao operador (pessoalmente ou por mensagem privada). Ele funciona uma vez, por {} horas; com ele a pessoa escolhe a própria senha. Ninguém vê nem envia senhas.", i.link_ttl_hours),
                },
                t(
                    "When someone leaves, press Deactivate next to their name: they lose access at once and their past records stay.",
                    "Quando alguém sair, clique em Desativar ao lado do nome: a pessoa perde o acesso na hora e os registros antigos ficam.",
                ),
            ]),
            Block::Sub(t("Managing customers", "Gerenciar clientes")),
            Block::Para(t(
                "Customers lists everyone enrolled with their balance. Search by phone, email or card number; open a customer to see their purchases and points history.",
                "Clientes lista todos os cadastrados com o saldo. Busque por telefone, e-mail ou número do cartão; abra um cliente para ver as compras e o histórico de pontos.",
            )),
            Block::Sub(t("Correcting a balance", "Corrigir um saldo")),
            Block::Para(t(
                "On a customer's page, \"Correct the balance\" adds or removes points. A reason is required and is kept in the audit log with your name.",
                "Na página do cliente, \"Corrigir o saldo\" soma ou tira pontos. O motivo é obrigatório e fica no registro de auditoria com o seu nome.",
            )),
            Block::Sub(t("Rewards", "Recompensas")),
            Block::Para(t(
                "Rewards lists what customers can exchange points for. \"Add a reward\" takes a name and a cost in points; switch a reward off when it is out of stock.",
                "Recompensas lista o que os clientes podem trocar por pontos. \"Adicionar recompensa\" pede um nome e o custo em pontos; desligue a recompensa quando faltar estoque.",
            )),
            Block::Sub(t("Settings", "Configurações")),
            Block::Para(t(
                "Points per 1.00 spent, minimum purchase, days until points expire, and whether customers may sign up online. Changes apply from the next purchase.",
                "Pontos por 1,00 gasto, compra mínima, dias até os pontos expirarem e se os clientes podem se cadastrar online. As mudanças valem a partir da próxima compra.",
            )),
            Block::Sub(t("Exports and audit log", "Exportações e auditoria")),
            Block::Para(t(
                "The Exports tab gives the ledger, the balances, the purchases or the month's summary (points issued, redeemed and expired, purchases, new and active customers, top rewards) for this month, last month or any days, as an Excel workbook or a CSV file that opens right in your spreadsheet, for your accountant or your own analysis. The audit log shows every change: who, what and why.",
                "A aba Exportações gera o extrato, os saldos, as compras ou o resumo do mês (pontos emitidos, resgatados e expirados, compras, clientes novos e ativos, recompensas mais resgatadas) deste mês, do mês passado ou de quaisquer dias, como planilha do Excel ou arquivo CSV que abre certo na sua planilha, para o contador ou para sua própria análise. O registro de auditoria mostra todas as alterações: quem, o quê e por quê.",
            )),
        ],
    });

    // The till.
    sections.push(Section {
        title: t("Cashier quick guide", "Guia rápido do caixa"),
        blocks: vec![
            Block::Para(match l {
                Lang::En => format!("Cashiers sign in at {login} and work at {till_url}."),
                Lang::PtBr => format!("Os operadores entram por {login} e trabalham em {till_url}."),
            }),
            Block::Steps(vec![
                t(
                    "Find the customer by phone, email or card number. Not found? Enroll them on the same screen with a phone number or email.",
                    "Encontre o cliente por telefone, e-mail ou número do cartão. Não encontrou? Cadastre-o na mesma tela com telefone ou e-mail.",
                ),
                t(
                    "Award points: type the purchase amount, check the points shown and confirm. A purchase is never counted twice, even if the button is pressed again.",
                    "Dar pontos: digite o valor da compra, confira os pontos mostrados e confirme. Uma compra nunca é contada duas vezes, mesmo que o botão seja apertado de novo.",
                ),
                t(
                    "Redeem: choose a reward the customer has enough points for, or a number of points, and confirm.",
                    "Resgatar: escolha uma recompensa para a qual o cliente tenha pontos, ou uma quantidade de pontos, e confirme.",
                ),
                t(
                    "Reverse a wrong award: on the customer's page, press Reverse next to the purchase. Only today's purchases can be reversed at the till; older ones are corrected by an administrator.",
                    "Estornar uma compra errada: na página do cliente, clique em Estornar ao lado da compra. No caixa só compras de hoje podem ser estornadas; as mais antigas são corrigidas por um administrador.",
                ),
            ]),
        ],
    });

    // Customers.
    sections.push(Section {
        title: t("Your customers' side", "O lado dos seus clientes"),
        blocks: vec![Block::Bullets(vec![
            match l {
                Lang::En => format!("Join page: {join_url}. Print it as a QR code at the counter; customers sign up with their phone or email and get a card number."),
                Lang::PtBr => format!("Página de adesão: {join_url}. Imprima como QR code no balcão; o cliente se cadastra com telefone ou e-mail e recebe um número de cartão."),
            },
            match l {
                Lang::En => format!("Customer portal: {me_url}. Customers see their balance, their history, their card number and the rewards they can redeem."),
                Lang::PtBr => format!("Portal do cliente: {me_url}. O cliente vê saldo, histórico, número do cartão e as recompensas que pode resgatar."),
            },
            t(
                "Customers enrolled at the till can create their online account later from the join page with the same phone or email.",
                "Clientes cadastrados no caixa podem criar a conta online depois, pela página de adesão, com o mesmo telefone ou e-mail.",
            ),
        ])],
    });

    // Support.
    let mut contact = Vec::new();
    if let Some(e) = &i.support.email {
        contact.push((t("Email", "E-mail"), e.clone()));
    }
    if let Some(p) = &i.support.phone {
        contact.push((t("Phone", "Telefone"), p.clone()));
    }
    if let Some(h) = &i.support.hours {
        contact.push((t("Hours", "Horário"), h.clone()));
    }
    let mut support = Vec::new();
    if contact.is_empty() {
        support.push(Block::Para(t(
            "Contact your account manager.",
            "Fale com o seu gerente de conta.",
        )));
    } else {
        support.push(Block::Facts(contact));
    }
    support.push(Block::Para(match l {
        Lang::En => format!("Tell us your business name ({}, short name {}), what you were doing and what you saw. Never send passwords.", org.name, org.slug),
        Lang::PtBr => format!("Informe o nome da empresa ({}, identificador {}), o que estava fazendo e o que apareceu na tela. Nunca envie senhas.", org.name, org.slug),
    }));
    sections.push(Section {
        title: t("Support", "Suporte"),
        blocks: support,
    });

    // FAQ.
    sections.push(Section {
        title: t("Frequently asked questions", "Perguntas frequentes"),
        blocks: vec![
            Block::Qa(
                t("A cashier forgot their password.", "Um operador esqueceu a senha."),
                t(
                    "Passwords are never sent. On the sign-in page, \"Forgot your password?\" emails them a new one-time link (their account needs an email address); an administrator can also send one from Users (\"Email a password reset\"). If the administrator is locked out and has no email on their account, call support for a new link.",
                    "Senhas nunca são enviadas. Na página de entrada, \"Esqueceu a senha?\" envia por e-mail um novo link de uso único (a conta precisa ter e-mail); um administrador também pode enviá-lo em Usuários (\"Enviar redefinição de senha\"). Se o administrador não conseguir entrar e não tiver e-mail na conta, ligue para o suporte e peça um novo link.",
                ),
            ),
            Block::Qa(
                t("Points were awarded by mistake.", "Pontos foram dados por engano."),
                t(
                    "Reverse the purchase on the customer's page at the till the same day. Later, an administrator corrects the balance with a reason.",
                    "Estorne a compra na página do cliente, no caixa, no mesmo dia. Depois disso, um administrador corrige o saldo informando o motivo.",
                ),
            ),
            Block::Qa(
                t("A customer lost their card.", "O cliente perdeu o cartão."),
                t(
                    "Nothing is lost: find them at the till by phone or email. Their card number is on their page and in their customer portal.",
                    "Nada se perde: encontre o cliente no caixa pelo telefone ou e-mail. O número do cartão aparece na página dele e no portal do cliente.",
                ),
            ),
            Block::Qa(t("Do points expire?", "Os pontos expiram?"), {
                let mut a = expiry;
                a.push(' ');
                a.push_str(&t(
                    "Administrators change this in Settings.",
                    "Administradores mudam isso em Configurações.",
                ));
                a
            }),
        ],
    });

    let date = i.formats.date(i.now, &org.timezone);
    Guide {
        lang: l.tag().to_owned(),
        title: match l {
            Lang::En => format!("{}: loyalty system guide", org.name),
            Lang::PtBr => format!("{}: guia do sistema de fidelidade", org.name),
        },
        subtitle: match l {
            Lang::En => format!("Prepared on {date}. Sign in at {login}"),
            Lang::PtBr => format!("Preparado em {date}. Entre por {login}"),
        },
        sections,
        footer: match l {
            Lang::En => format!("{} ({}) - {date}", org.name, org.slug),
            Lang::PtBr => format!("{} ({}) - {date}", org.name, org.slug),
        },
    }
}
