import QtQuick
import QtQuick.Layouts

// The kiosk: choose a service, get a ticket. Everything it shows comes from the injected
// `kiosk` controller (nowserving.kiosk.app.KioskController); it never waits on anything.
Rectangle {
    id: root
    required property var kiosk
    readonly property real unit: Math.max(10, Math.min(width, height) / 36)
    readonly property bool portrait: height > width
    readonly property var s: kiosk.strings
    color: "#0b1f3a"

    // How many columns lay `count` buttons out best in `w` x `h`: the largest buttons of
    // about 2.4:1 (a name over a line of detail), whatever the screen's shape.
    function columnsFor(count, w, h, gap) {
        let best = 1, bestScore = -1
        for (let c = 1; c <= Math.max(1, count); c++) {
            const r = Math.ceil(count / c)
            const bw = (w - (c - 1) * gap) / c, bh = (h - (r - 1) * gap) / r
            const score = Math.min(bw / 2.4, bh)
            if (score > bestScore + 0.5) { bestScore = score; best = c }
        }
        return best
    }

    // ----- header: branch, clock, language, offline mark --------------------------
    RowLayout {
        id: header
        anchors { top: parent.top; left: parent.left; right: parent.right; margins: root.unit }
        height: root.unit * 4
        spacing: root.unit
        Text {
            text: root.kiosk.branchName
            color: "#ffffff"
            font.pixelSize: root.unit * 2
            font.bold: true
            fontSizeMode: Text.Fit  // a long name gets smaller (two lines), never cut
            minimumPixelSize: root.unit * 1.0
            wrapMode: Text.Wrap
            verticalAlignment: Text.AlignVCenter
            Layout.fillWidth: true
            Layout.fillHeight: true
        }
        Rectangle {
            visible: !root.kiosk.online
            color: "#b3261e"
            radius: height / 2
            implicitHeight: root.unit * 2.2
            implicitWidth: offlineText.implicitWidth + root.unit * 1.6
            Text {
                id: offlineText
                anchors.centerIn: parent
                text: root.s.offline
                color: "#ffffff"
                font.pixelSize: root.unit * 1.1
            }
        }
        Text {
            id: clock
            color: "#c9d1db"
            font.pixelSize: root.unit * 1.6
            text: root.kiosk.clock.text  // the branch's time, not the device's
        }
        Repeater {
            model: root.kiosk.languages
            delegate: Rectangle {
                required property var modelData
                readonly property bool current: modelData.code === root.kiosk.language
                implicitWidth: Math.max(label.implicitWidth + root.unit * 2, root.unit * 3.8)
                implicitHeight: root.unit * 3.8  // a 9 mm touch target on a 7" screen
                radius: root.unit * 0.5
                color: current ? "#ffffff" : "transparent"
                border.color: "#ffffff"
                border.width: 2
                Text {
                    id: label
                    anchors.centerIn: parent
                    text: modelData.label
                    color: parent.current ? "#0b1f3a" : "#ffffff"
                    font.pixelSize: root.unit * 1.4
                    font.bold: true
                }
                MouseArea {
                    anchors.fill: parent
                    onClicked: root.kiosk.setLanguage(parent.modelData.code)
                }
            }
        }
    }

    Rectangle {  // from a group's services back to the start screen's
        id: back
        objectName: "back"
        visible: root.kiosk.groupName !== "" && root.kiosk.closedText === ""
        anchors { left: parent.left; verticalCenter: title.verticalCenter
                  leftMargin: root.unit * 1.5 }
        implicitWidth: backText.implicitWidth + root.unit * 2
        implicitHeight: root.unit * 3.8
        radius: root.unit * 0.5
        color: "transparent"
        border.color: "#ffffff"
        border.width: 2
        Text {
            id: backText
            anchors.centerIn: parent
            text: "‹ " + root.s.back
            color: "#ffffff"
            font.pixelSize: root.unit * 1.5
            font.bold: true
        }
        MouseArea { anchors.fill: parent; onClicked: root.kiosk.back() }
    }
    Text {
        id: title
        // Many services: the buttons need the room more than the screen needs a title.
        readonly property bool wanted: root.kiosk.groupName !== "" || root.kiosk.services.count <= 8
        visible: root.kiosk.closedText === "" && wanted
        anchors { top: header.bottom; left: back.visible ? back.right : parent.left
                  right: parent.right; topMargin: root.unit; leftMargin: root.unit
                  rightMargin: root.unit }
        height: wanted ? root.unit * 3.8 : 0
        text: root.kiosk.groupName !== "" ? root.kiosk.groupName : root.s.title
        color: "#ffffff"
        font.pixelSize: root.unit * 2.4
        fontSizeMode: Text.Fit
        minimumPixelSize: root.unit * 1.2
        horizontalAlignment: back.visible ? Text.AlignLeft : Text.AlignHCenter
        verticalAlignment: Text.AlignVCenter
    }

    // ----- the services ---------------------------------------------------------------
    GridLayout {
        id: grid
        visible: root.kiosk.closedText === ""
        anchors {
            top: title.bottom; bottom: parent.bottom; left: parent.left; right: parent.right
            margins: root.unit * 1.5
        }
        readonly property int count: root.kiosk.services.count
        readonly property int rows: Math.ceil(count / Math.max(1, columns))
        columns: root.columnsFor(count, width, height, root.unit)
        rowSpacing: root.unit
        columnSpacing: root.unit
        Repeater {
            model: root.kiosk.services
            delegate: ServiceButton {
                Layout.fillWidth: true
                Layout.fillHeight: true
                Layout.preferredWidth: grid.width / grid.columns
                Layout.preferredHeight: grid.height / grid.rows
                Layout.maximumHeight: root.unit * (root.portrait ? 10 : 14)
                unit: root.unit
                onChosen: id => root.kiosk.choose(id)
            }
        }
    }

    // ----- closed: when the branch opens again, and no service to tap --------------------
    Text {
        id: closedNote
        objectName: "closed"
        visible: root.kiosk.closedText !== ""
        anchors { top: header.bottom; bottom: parent.bottom; left: parent.left; right: parent.right
                  margins: root.unit * 3 }
        text: root.kiosk.closedText
        color: "#ffffff"
        font.pixelSize: root.unit * 2.6
        font.bold: true
        wrapMode: Text.WordWrap
        horizontalAlignment: Text.AlignHCenter
        verticalAlignment: Text.AlignVCenter
    }

    // ----- what happens after a tap -----------------------------------------------------
    Rectangle {
        id: overlay
        anchors.fill: parent
        visible: root.kiosk.phase !== "choose"
        color: "#0b1f3a"  // opaque: the message must not compete with the buttons
        MouseArea { anchors.fill: parent }  // taps do not reach the buttons below

        ColumnLayout {
            anchors.centerIn: parent
            width: parent.width * 0.85
            spacing: root.unit

            Text {
                Layout.fillWidth: true
                horizontalAlignment: Text.AlignHCenter
                wrapMode: Text.WordWrap
                color: "#ffffff"
                font.pixelSize: root.unit * 2.4
                font.bold: true
                text: ({
                    "printing": root.s.printing,
                    "done": root.s.take_ticket,
                    "failed": root.s.print_failed,
                    "unavailable": root.s.unavailable,
                    "confirm_late": root.s.late_title,
                    "priority": root.s.priority_title
                })[root.kiosk.phase] || ""
            }
            Text {
                visible: root.kiosk.ticketNumber !== "" && root.kiosk.phase !== "confirm_late"
                Layout.fillWidth: true
                horizontalAlignment: Text.AlignHCenter
                color: "#f5b301"
                font.pixelSize: root.unit * (root.kiosk.phase === "failed" ? 6 : 8)
                font.bold: true
                text: root.kiosk.ticketNumber
            }
            Text {
                visible: text !== ""
                Layout.fillWidth: true
                horizontalAlignment: Text.AlignHCenter
                wrapMode: Text.WordWrap
                color: "#ffffff"
                font.pixelSize: root.unit * 1.6
                text: root.kiosk.phase === "confirm_late" ? root.kiosk.lateText
                    : root.kiosk.phase === "failed"
                    ? (root.kiosk.hasPage ? root.s.print_failed_help : root.s.print_failed_help_number)
                    : root.kiosk.phase === "done" || root.kiosk.phase === "unavailable"
                    ? root.kiosk.ticketDetail : ""
            }
            Text {  // what to do next, once the ticket is in hand
                visible: root.kiosk.phase === "done" && root.kiosk.nextStep !== ""
                Layout.fillWidth: true
                horizontalAlignment: Text.AlignHCenter
                wrapMode: Text.WordWrap
                color: "#f5b301"
                font.pixelSize: root.unit * 1.6
                text: root.kiosk.nextStep
            }
            Image {
                visible: root.kiosk.phase === "failed" && root.kiosk.hasPage
                Layout.alignment: Qt.AlignHCenter
                source: visible ? "image://ticket/qr/" + root.kiosk.ticketNumber : ""
                sourceSize.width: root.unit * 10
                sourceSize.height: root.unit * 10
                smooth: false
            }
            GridLayout {  // the choices: one row of them, or a column for priority classes
                visible: ["confirm_late", "failed", "unavailable", "priority"]
                    .indexOf(root.kiosk.phase) >= 0
                Layout.alignment: Qt.AlignHCenter
                columns: root.kiosk.phase === "priority" ? 1 : 2
                rowSpacing: root.unit
                columnSpacing: root.unit * 2
                Repeater {
                    // Late: "back" is the first, highlighted choice; taking a ticket that may
                    // not be served today is the second. Priority: each class the branch
                    // offers, then a regular ticket.
                    model: root.kiosk.phase === "confirm_late"
                        ? [{ text: root.s.back, action: "back", primary: true },
                           { text: root.s.late_take, action: "take", primary: false }]
                        : root.kiosk.phase === "priority"
                        ? root.kiosk.priorityChoices.map(c => (
                              { text: c.label, action: "priority", value: c.id, primary: true }))
                              .concat([{ text: root.s.priority_none, action: "priority",
                                         value: "", primary: false }])
                        : [{ text: root.s.back, action: "back", primary: true }]
                    delegate: Rectangle {
                        required property var modelData
                        objectName: "choice-" + modelData.action + "-" + (modelData.value || "")
                        Layout.alignment: Qt.AlignHCenter
                        implicitWidth: Math.min(root.width * 0.8,
                                                Math.max(root.unit * 12, choice.implicitWidth + root.unit * 3))
                        implicitHeight: Math.max(root.unit * 4.5, choice.implicitHeight + root.unit * 1.5)
                        radius: root.unit * 0.6
                        color: modelData.primary ? "#f5b301" : "#ffffff"
                        Text {
                            id: choice
                            anchors.centerIn: parent
                            width: Math.min(implicitWidth, root.width * 0.8 - root.unit * 3)
                            text: parent.modelData.text
                            color: "#10213a"
                            font.pixelSize: root.unit * 1.6
                            font.bold: true
                            wrapMode: Text.WordWrap
                            horizontalAlignment: Text.AlignHCenter
                        }
                        MouseArea {
                            anchors.fill: parent
                            onClicked: {
                                const choice = parent.modelData
                                if (choice.action === "take") root.kiosk.confirmLate()
                                else if (choice.action === "priority")
                                    root.kiosk.choosePriority(choice.value)
                                else root.kiosk.reset()
                            }
                        }
                    }
                }
            }
        }
    }
}
